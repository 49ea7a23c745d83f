/// Size arithmetic on numbers that come from a model file or a caller.
///
/// Every element count, byte size and product of extents that untrusted data can reach
/// goes through `count`: an overflow, a negative factor, or a tensor larger than
/// `maxElements` is a thrown `PRPKitError.invalidArgument`, never a trap. Once a shape
/// has passed here, plain `Int` arithmetic on it (and `Tensor.elementCount`) is safe.
public enum ShapeMath {
    /// Largest element count of any one tensor prpkit accepts, creates or infers:
    /// 2^31 − 1 floats (8 GiB). Byte counts (× 4) stay far from overflow and kernels may
    /// index any tensor or plane with `Int32`.
    public static let maxElements = Int(Int32.max)

    /// The product of `factors` (1 for none), or nil when a factor is negative, the
    /// product overflows `Int`, or it exceeds `limit`.
    public static func product(_ factors: some Sequence<Int>, limit: Int = maxElements) -> Int? {
        var total = 1
        var zero = false
        for f in factors {
            guard f >= 0 else { return nil }
            if f == 0 { zero = true; continue }
            let (p, overflow) = total.multipliedReportingOverflow(by: f)
            // A zero factor makes the count 0, but an overflowing product of the other
            // factors still marks the shape as hostile.
            guard !overflow, p <= limit else { return nil }
            total = p
        }
        return zero ? 0 : total
    }

    /// The element count of a tensor of shape `factors`; `what` names it in the error
    /// (e.g. "node 'fc' output", "relevance").
    public static func count(_ factors: [Int], _ what: @autoclosure () -> String) throws -> Int {
        guard let n = product(factors) else {
            throw PRPKitError.invalidArgument(
                "\(what()) of shape \(factors) has more than \(maxElements) elements (2^31 - 1, the limit of one tensor)")
        }
        return n
    }

    /// a + b for counts, or an error when the sum exceeds `maxElements` (or a term is negative).
    public static func sum(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        let (s, overflow) = a.addingReportingOverflow(b)
        guard a >= 0, b >= 0, !overflow, s <= maxElements else {
            throw PRPKitError.invalidArgument("\(what()): \(a) + \(b) exceeds the limit of \(maxElements) elements")
        }
        return s
    }

    /// The byte size of `elements` float32 values (`elements` already checked by `count`).
    public static func bytes(floats elements: Int) -> Int { elements * MemoryLayout<Float>.stride }
}
