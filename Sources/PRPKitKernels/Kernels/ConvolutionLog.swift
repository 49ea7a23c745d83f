/// The convolutions run while a profiled span is open (`PassProfile`, in the graph layer,
/// opens one per node): each convolution kernel reports its direct-equivalent FLOPs and the
/// algorithm it took. Process-wide and unsynchronised, so profile one pass at a time.
public enum ConvolutionLog {
    public struct Entry: Sendable {
        /// 2·N·Cout·(Cin/groups)·kH·kW·Ho·Wo: what a direct convolution multiplies and adds.
        public let flops: Double
        /// The algorithm that ran (`ConvWeightLayout.description`).
        public let algorithm: String
    }

    /// The open span's convolutions; nil when no span is open (kernels then record nothing).
    nonisolated(unsafe) static package var active: [Entry]? = nil

    static package func record(flops: Double, algorithm: ConvWeightLayout) {
        if active != nil { active!.append(Entry(flops: flops, algorithm: algorithm.description)) }
    }
}
