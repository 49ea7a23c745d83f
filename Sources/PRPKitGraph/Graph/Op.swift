/// The operation a graph node performs. The JSON name of each case is its `kind`;
/// `Op+JSON.swift` maps attributes to and from the model file.
///
/// Shapes: images are (N, C, H, W); `linear` takes (N, in) → (N, out).
public enum Op: Equatable, Sendable {
    /// Parameters: `weight` (Cout, Cin/groups, kH, kW), optional `bias` (Cout).
    case conv2d(Conv2dAttributes)
    /// Parameters: `weight` (out, in), optional `bias` (out). Input (N, in).
    case linear
    /// PyTorch's max_pool2d; on ties the first maximum in window order wins.
    case maxPool2d(MaxPool2dAttributes)
    case avgPool2d(AvgPool2dAttributes)
    /// Output (N, C, outH, outW) with PyTorch's adaptive window boundaries.
    case adaptiveAvgPool2d(output: Pair2)
    /// Inference batch norm. Parameters: `weight`, `bias`, `running_mean`, `running_var` (C).
    case batchNorm2d(epsilon: Float)
    case relu
    case sigmoid
    case tanh
    /// ReLU6, SiLU, GELU, hard-swish, hard-sigmoid (see `Activation`); its kind is the
    /// activation's name.
    case activation(Activation)
    /// Layer norm over the channels (axis 1) at every pixel, as torch's layer_norm over
    /// the last dimension of the channels-last tensor (ConvNeXt's LayerNorm / LayerNorm2d).
    /// Parameters: `weight`, `bias` (C).
    case layerNorm(epsilon: Float)
    /// Softmax over the channels (axis 1) at every pixel (PIPNet's prototype presence).
    case softmax
    /// Per-channel multiply by parameter `weight` (C) (ConvNeXt's layer scale).
    case channelScale
    /// Elementwise product of two tensors of equal shape, or of (N, C, H, W) and a
    /// per-channel gate (N, C, 1, 1) in either order (squeeze-excitation).
    case mul
    /// Identity at inference.
    case dropout
    /// Elementwise sum of two tensors of equal shape.
    case add
    /// Merges dimensions start...end (negative counts from the end), as torch.flatten.
    case flatten(start: Int, end: Int)
    /// Keeps the batch dimension and reshapes the rest to `shape` (one entry may be −1).
    case reshape(shape: [Int])
    /// Concatenates its inputs along `axis` (negative counts from the end).
    case concat(axis: Int)
    /// Squared L2 distances, features (N, D, H, W) × parameter `prototypes` (P, D[, 1, 1])
    /// → (N, P, H, W).
    case l2Distance(mode: DistanceMode)
    /// ProtoPNet similarity: d ← relu(d); log((d + 1) / (d + epsilon)).
    case logSimilarity(epsilon: Float)
    /// ProtoTree similarity: s = sqrt(|d| + epsilon); exp(−s), or −s if `logProbabilities`.
    case expSimilarity(epsilon: Float, logProbabilities: Bool)
    /// Minimum over H and W: (N, C, H, W) → (N, C).
    case spatialMin
    /// Maximum over H and W: (N, C, H, W) → (N, C).
    case spatialMax

    /// The stable name used in model files and error messages.
    public var kind: String {
        switch self {
        case .conv2d: return "conv2d"
        case .linear: return "linear"
        case .maxPool2d: return "max_pool2d"
        case .avgPool2d: return "avg_pool2d"
        case .adaptiveAvgPool2d: return "adaptive_avg_pool2d"
        case .batchNorm2d: return "batch_norm2d"
        case .relu: return "relu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        case .activation(let a): return a.rawValue
        case .layerNorm: return "layer_norm"
        case .channelScale: return "channel_scale"
        case .softmax: return "softmax"
        case .mul: return "mul"
        case .dropout: return "dropout"
        case .add: return "add"
        case .flatten: return "flatten"
        case .reshape: return "reshape"
        case .concat: return "concat"
        case .l2Distance: return "l2_distance"
        case .logSimilarity: return "log_similarity"
        case .expSimilarity: return "exp_similarity"
        case .spatialMin: return "spatial_min"
        case .spatialMax: return "spatial_max"
        }
    }

    /// Parameter roles the op requires, and those it accepts but may lack.
    public var parameterRoles: (required: [String], optional: [String]) {
        switch self {
        case .conv2d, .linear: return (["weight"], ["bias"])
        case .batchNorm2d: return (["weight", "bias", "running_mean", "running_var"], [])
        case .layerNorm: return (["weight", "bias"], [])
        case .channelScale: return (["weight"], [])
        case .l2Distance: return (["prototypes"], [])
        default: return ([], [])
        }
    }

    /// Number of tensor inputs; nil means one or more.
    public var arity: Int? {
        switch self {
        case .add, .mul: return 2
        case .concat: return nil
        default: return 1
        }
    }
}
