#if canImport(Glibc)
import Glibc
#endif

/// Elementwise activations of the mobile and modern backbones (MobileNetV2's ReLU6,
/// EfficientNet's SiLU, ConvNeXt's GELU, MobileNetV3's hard-swish and hard-sigmoid),
/// each as PyTorch defines it, with the derivative its autograd uses (its choice at the
/// kinks included), so that gradient × input and every rule built on the gradient agree
/// with torch. The raw value is the op kind in model files.
public enum Activation: String, Sendable, CaseIterable {
    /// min(max(x, 0), 6); derivative 1 on the open interval (0, 6), 0 elsewhere.
    case relu6
    /// x·σ(x); derivative σ(x)·(1 + x·(1 − σ(x))).
    case silu
    /// x·Φ(x) with the exact normal CDF Φ(x) = (1 + erf(x/√2))/2; derivative Φ(x) + x·φ(x).
    case gelu
    /// GELU's tanh approximation (torch's approximate="tanh"):
    /// x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    case geluTanh = "gelu_tanh"
    /// x·relu6(x + 3)/6; derivative 0 up to −3, x/3 + 1/2 on the open interval (−3, 3), 1 from 3
    /// on (torch's choice at both kinks).
    case hardswish
    /// relu6(x + 3)/6; derivative 1/6 on the open interval (−3, 3), 0 elsewhere.
    case hardsigmoid

    /// f(x).
    @inlinable
    public func value(_ x: Float) -> Float {
        switch self {
        case .relu6: return Swift.min(Swift.max(x, 0), 6)
        case .silu: return x / (1 + expf(-x))
        case .gelu: return 0.5 * x * (1 + erff(x * 0.70710678118654752))
        case .geluTanh:
            return 0.5 * x * (1 + tanhf(0.79788456080286536 * (x + 0.044715 * x * x * x)))
        case .hardswish: return x * Swift.min(Swift.max(x + 3, 0), 6) / 6
        case .hardsigmoid: return Swift.min(Swift.max(x + 3, 0), 6) / 6
        }
    }

    /// f'(x), as torch's backward computes it.
    @inlinable
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .relu6: return x > 0 && x < 6 ? 1 : 0
        case .silu:
            let s = 1 / (1 + expf(-x))
            return s * (1 + x * (1 - s))
        case .gelu:
            let cdf = 0.5 * (1 + erff(x * 0.70710678118654752))
            let pdf = expf(-0.5 * x * x) * 0.39894228040143268
            return cdf + x * pdf
        case .geluTanh:
            let k: Float = 0.79788456080286536, c: Float = 0.044715
            let inner = k * (x + c * x * x * x)
            let t = tanhf(inner)
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x)
        case .hardswish: return x <= -3 ? 0 : (x < 3 ? x / 3 + 0.5 : 1)
        case .hardsigmoid: return x > -3 && x < 3 ? 1.0 / 6 : 0
        }
    }
}

extension Kernels {
    /// The activation applied to every element.
    public static func activation(_ x: Tensor, _ a: Activation) -> Tensor { map(x) { a.value($0) } }

    /// f'(x) for every element of the forward input `x`.
    public static func activationDerivative(_ x: Tensor, _ a: Activation) -> Tensor { map(x) { a.derivative($0) } }
}
