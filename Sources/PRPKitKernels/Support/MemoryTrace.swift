#if canImport(Glibc)
import Glibc
#endif

/// A diagnostic for where a process's memory goes: with `PRPKIT_MEMORY_TRACE=1` in the
/// environment, `mark` writes one line to standard error per call — the label, the
/// process's resident set (VmRSS) and peak (VmHWM) in MB, and the tensor pool's bytes in
/// use and idle. Off (one branch on a constant) otherwise. bench/memory_and_reuse.py
/// `--trace` prints these lines for the one-heatmap process.
package enum MemoryTrace {
    package static let enabled: Bool = {
        guard let v = getenv("PRPKIT_MEMORY_TRACE") else { return false }
        return String(cString: v) != "0" && String(cString: v) != ""
    }()

    /// Bytes of `PackedConvWeights` alive (counted only when enabled).
    package static let packedBytes = Locked(0)

    /// (VmRSS, VmHWM, RssFile) in kB from /proc/self/status; zeros where it cannot be read.
    package static func residentKB() -> (rss: Int, peak: Int, file: Int) {
        guard let f = fopen("/proc/self/status", "r") else { return (0, 0, 0) }
        defer { fclose(f) }
        var rss = 0, peak = 0, file = 0
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            func kb() -> Int { Int(s.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map {
                String($0.filter(\.isNumber)) } ?? "") ?? 0 }
            if s.hasPrefix("VmRSS:") { rss = kb() } else if s.hasPrefix("VmHWM:") { peak = kb() }
            else if s.hasPrefix("RssFile:") { file = kb() }
        }
        return (rss, peak, file)
    }

    /// Writes the trace line for `label` (only when enabled; `label` is built lazily).
    @inline(__always)
    package static func mark(_ label: @autoclosure () -> String) {
        guard enabled else { return }
        let (rss, peak, file) = residentKB()
        let pool = TensorPool.usage
        let mb = { (b: Int) in String(Double(b / 10_485) / 100) }
        fputs("prpkit-mem \(label()): rss \(mb(rss * 1024)) MB, peak \(mb(peak * 1024)) MB, file \(mb(file * 1024)) MB, "
              + "pool live \(mb(pool.live)) idle \(mb(pool.idle)) MB, packed weights \(mb(packedBytes.withLock { $0 })) MB, "
              + "pool mapped \(mb(TensorPool.mappedBytes)) MB\n", stderr)
    }
}
