/// Per-output-channel work fused into a convolution's store, so that the output is written
/// once instead of three times: y = (conv + bias)·scale[o] + shift[o] — an eval
/// BatchNorm2d exactly as `Kernels.batchNorm2d` computes it — then max(y, 0) (ReLU, NaN
/// kept as `Kernels.relu` does). The same floats as the separate kernels.
public struct ConvEpilogue: Sendable {
    public var scale: [Float]?
    public var shift: [Float]?
    public var relu: Bool

    public init(scale: [Float]? = nil, shift: [Float]? = nil, relu: Bool = false) {
        self.scale = scale; self.shift = shift; self.relu = relu
    }

    /// An eval BatchNorm2d's per-channel scale and shift, computed as `Kernels.batchNorm2d` does.
    public init(batchNorm weight: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float, relu: Bool) {
        let c = weight.count
        var s = [Float](repeating: 0, count: c), t = s
        for ch in 0..<c {
            let invstd = 1 / (variance.data[ch] + epsilon).squareRoot()
            s[ch] = invstd * weight.data[ch]
            t[ch] = bias.data[ch] - mean.data[ch] * s[ch]
        }
        self.init(scale: s, shift: t, relu: relu)
    }

    /// Applies the epilogue to `rows` planes of a whole (N, C = channelCount, …) tensor.
    package func apply(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int, channelCount: Int) {
        Parallel.forRanges(rows) { planes in
            for plane in planes {
                apply(p + plane * rowStride, rows: 1, columns: columns, rowStride: rowStride, firstChannel: plane % channelCount)
            }
        }
    }

    /// Applies the epilogue to `rows` output channels starting at `firstChannel`, each a
    /// row of `columns` floats `rowStride` apart.
    package func apply(_ p: UnsafeMutablePointer<Float>, rows: Int, columns: Int, rowStride: Int, firstChannel: Int) {
        for r in 0..<rows {
            let row = p + r * rowStride, ch = firstChannel + r
            if let scale, let shift {
                let s = scale[ch], t = shift[ch]
                for i in 0..<columns { row[i] = row[i] * s + t }
            }
            if relu { for i in 0..<columns { row[i] = Swift.max(row[i], 0) } }
        }
    }
}
