#if canImport(Glibc)
import Glibc
#endif

extension Kernels {
    /// Applies `f` to every element into a new tensor of the same shape.
    /// `into` may be `x` itself (in place) or another tensor of the same shape.
    @inlinable
    public static func map(_ x: Tensor, into: Tensor? = nil, _ f: (Float) -> Float) -> Tensor {
        let out = into ?? Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        Parallel.forRanges(x.count, minChunk: 1 << 15) { r in
            for i in r { op[i] = f(xp[i]) }
        }
        return out
    }

    /// max(0, x); NaN stays NaN, as torch.relu.
    public static func relu(_ x: Tensor, into: Tensor? = nil) -> Tensor {
        // A plain loop the compiler vectorises; Swift.max(v, 0) keeps NaN (0 > NaN is false).
        let out = into ?? Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        Parallel.forRanges(x.count, minChunk: 1 << 16) { r in
            for i in r { op[i] = Swift.max(xp[i], 0) }
        }
        return out
    }

    /// 1 / (1 + e^(−x)).
    public static func sigmoid(_ x: Tensor) -> Tensor { map(x) { 1 / (1 + expf(-$0)) } }

    public static func tanh(_ x: Tensor) -> Tensor { map(x) { tanhf($0) } }

    /// a + b for tensors of equal shape (`into` may be `a` or `b`).
    public static func add(_ a: Tensor, _ b: Tensor, into: Tensor? = nil) -> Tensor {
        let out = into ?? Tensor(uninitialized: a.shape)
        let ap = a.data, bp = b.data, op = out.data
        Parallel.forRanges(a.count, minChunk: 1 << 15) { r in
            for i in r { op[i] = ap[i] + bp[i] }
        }
        return out
    }

    /// Inference batch norm in PyTorch's CPU form: α = γ / sqrt(var + ε), β = b − μ·α,
    /// y = x·α + β per channel. x: (N, C, H, W).
    public static func batchNorm2d(_ x: Tensor, weight: Tensor, bias: Tensor, mean: Tensor,
                                   variance: Tensor, epsilon: Float, into: Tensor? = nil) -> Tensor {
        let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var alpha = [Float](repeating: 0, count: c), beta = alpha
        for ch in 0..<c {
            let invstd = 1 / (variance.data[ch] + epsilon).squareRoot()
            alpha[ch] = invstd * weight.data[ch]
            beta[ch] = bias.data[ch] - mean.data[ch] * alpha[ch]
        }
        let out = into ?? Tensor(uninitialized: x.shape)
        let xp = x.data, op = out.data
        alpha.withUnsafeBufferPointer { al in
            beta.withUnsafeBufferPointer { be in
                Parallel.forRanges(n * c) { planes in
                    for plane in planes {
                        let ch = plane % c, s = al[ch], t = be[ch]
                        let src = xp + plane * hw, dst = op + plane * hw
                        for i in 0..<hw { dst[i] = src[i] * s + t }
                    }
                }
            }
        }
        return out
    }

    /// Concatenation along `axis` of tensors that agree on every other dimension.
    public static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
        var shape = xs[0].shape
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let out = Tensor(zeros: shape)
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let rowOut = shape[axis] * inner
        var offset = 0
        for x in xs {
            let row = x.shape[axis] * inner
            for o in 0..<outer {
                (out.data + o * rowOut + offset).update(from: x.data + o * row, count: row)
            }
            offset += row
        }
        return out
    }
}
