// The parameters kernels take: graph ops carry them (Graph/Op.swift) and hand them down,
// so that Kernels never reach up into the graph layer.

/// A height/width pair (kernel sizes, strides, paddings, dilations, output sizes).
public struct Pair2: Equatable, Hashable, Sendable {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
}

public struct Conv2dAttributes: Equatable, Sendable {
    public var stride = Pair2(1, 1)
    public var padding = Pair2(0, 0)
    public var dilation = Pair2(1, 1)
    public var groups = 1
    public init(stride: Pair2 = Pair2(1, 1), padding: Pair2 = Pair2(0, 0),
                dilation: Pair2 = Pair2(1, 1), groups: Int = 1) {
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
    }
}

public struct MaxPool2dAttributes: Equatable, Sendable {
    public var kernel: Pair2
    public var stride: Pair2
    public var padding = Pair2(0, 0)
    public var dilation = Pair2(1, 1)
    public var ceilMode = false
    public init(kernel: Pair2, stride: Pair2? = nil, padding: Pair2 = Pair2(0, 0),
                dilation: Pair2 = Pair2(1, 1), ceilMode: Bool = false) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
        self.dilation = dilation; self.ceilMode = ceilMode
    }
}

public struct AvgPool2dAttributes: Equatable, Sendable {
    public var kernel: Pair2
    public var stride: Pair2
    public var padding = Pair2(0, 0)
    public var ceilMode = false
    public var countIncludePad = true
    /// When set, every window sum is divided by this instead of the window size.
    public var divisorOverride: Int? = nil
    public init(kernel: Pair2, stride: Pair2? = nil, padding: Pair2 = Pair2(0, 0),
                ceilMode: Bool = false, countIncludePad: Bool = true, divisorOverride: Int? = nil) {
        self.kernel = kernel; self.stride = stride ?? kernel; self.padding = padding
        self.ceilMode = ceilMode; self.countIncludePad = countIncludePad
        self.divisorOverride = divisorOverride
    }
}

/// How squared L2 distances between features and prototypes are evaluated. The three
/// variants differ in float32 rounding only; each reproduces one reference exactly.
public enum DistanceMode: String, Equatable, Sendable, CaseIterable {
    /// `torch.cdist(f, p) ** 2` (CaBRNet's SquaredEuclideanDistance), including
    /// torch's switch to the matrix-product form when H·W > 25 or P > 25.
    case cdist
    /// CaBRNet's LegacyProtoPNet form: ‖f‖² + (−2 f·p + ‖p‖²).
    case protopnet
    /// CaBRNet's LegacyProtoTree form: (‖f‖² + ‖p‖²) − 2 f·p.
    case prototree
}

extension Kernels {
    /// PyTorch's pooling/conv output extent, including ceil_mode's rule that the last
    /// window must start inside the input or left padding.
    /// No overflow: input ≤ 2^31 (a checked tensor), padding and dilation ≤ 2^20 (op
    /// attributes), kernel ≤ 2^31 (a weight extent).
    public static func windowExtent(_ input: Int, kernel: Int, stride: Int, padding: Int,
                                    dilation: Int, ceilMode: Bool) -> Int {
        let span = input + 2 * padding - dilation * (kernel - 1) - 1
        if span < 0 { return 0 }
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= input + padding { out -= 1 }
        return out
    }
}
