// prpkit-bench: times the GEMM and convolution kernels; one JSON line per measurement.
//   prpkit-bench conv [--batch 1 --channels 128 --size 56 --out-channels 128 --kernel 3 --padding 1]
//   prpkit-bench gemm [--sizes 256 512 1024 2048]
//   prpkit-bench winograd [--batch 1 --channels 64 --size 56 --out-channels 64]   direct vs F(2,4,6)
//   prpkit-bench profile --model M.prpkit [--prototype P]   per-node profile: forward, PRP forward, PRP backward
// Options common to both: --threads (default: Parallel.threadCount), --runs (≥ 20), --warmup.
import ArgumentParser
import PRPKit
#if canImport(Glibc)
import Glibc
#endif

@main
struct PRPKitBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prpkit-bench",
        abstract: "Benchmarks of prpkit's kernels (median of timed runs after warm-up).",
        subcommands: [ConvBench.self, GEMMBench.self, WinogradBench.self, ProfileBench.self])
}

struct Common: ParsableArguments {
    @Option(help: "Worker threads (default: PRPKIT_NUM_THREADS or the core count).")
    var threads: Int?
    @Option(help: "Timed runs; the median is reported.")
    var runs: Int = 30
    @Option(help: "Untimed warm-up runs.")
    var warmup: Int = 5

    func apply() {
        if let t = threads, t > 0 { Parallel.threadCount = t }
    }
}

func median(_ v: [Double]) -> Double {
    let t = v.sorted(), c = t.count
    return c % 2 == 1 ? t[c / 2] : 0.5 * (t[c / 2 - 1] + t[c / 2])
}

/// Process CPU time (all threads) in milliseconds.
func cpuMilliseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) * 1e-6
}

/// Median wall time and median process CPU time (ms) of `body` over `runs` runs after
/// `warmup` runs. CPU time makes a per-core efficiency visible on a loaded machine.
func medianMilliseconds(runs: Int, warmup: Int, _ body: () -> Void) -> (wall: Double, cpu: Double) {
    for _ in 0..<warmup { body() }
    let clock = ContinuousClock()
    var wall: [Double] = [], cpu: [Double] = []
    for _ in 0..<max(runs, 1) {
        let c0 = cpuMilliseconds()
        let d = clock.measure { body() }
        cpu.append(cpuMilliseconds() - c0)
        wall.append(Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15)
    }
    return (median(wall), median(cpu))
}

/// Deterministic pseudo-random floats in [-1, 1).
func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var s = seed &* 0x9E3779B97F4A7C15 | 1
    let t = Tensor(zeros: shape)
    for i in 0..<t.count {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        t.data[i] = Float(s >> 40) / Float(1 << 23) - 1
    }
    return t
}

func fmt(_ v: Double) -> String {
    let r = (v * 1000).rounded() / 1000
    return "\(r)"
}

struct ConvBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "conv", abstract: "Time Kernels.conv2d.")
    @OptionGroup var common: Common
    @Option var batch = 1
    @Option var channels = 128
    @Option var size = 56
    @Option var outChannels = 128
    @Option var kernel = 3
    @Option var padding = 1
    @Option var stride = 1
    @Option var groups = 1
    @Flag(help: "Add a bias.") var bias = false

    func run() {
        common.apply()
        let x = randomTensor([batch, channels, size, size], seed: 1)
        let w = randomTensor([outChannels, channels / groups, kernel, kernel], seed: 2)
        let b = bias ? randomTensor([outChannels], seed: 3) : nil
        let attrs = Conv2dAttributes(stride: Pair2(stride, stride), padding: Pair2(padding, padding), groups: groups)
        var outShape: [Int] = []
        let (ms, cpu) = medianMilliseconds(runs: common.runs, warmup: common.warmup) {
            outShape = Kernels.conv2d(x, weight: w, bias: b, attrs).shape
        }
        let flops = 2.0 * Double(outShape.reduce(1, *)) * Double(channels / groups * kernel * kernel)
        print("{\"bench\": \"conv\", \"batch\": \(batch), \"channels\": \(channels), \"size\": \(size), "
              + "\"out_channels\": \(outChannels), \"kernel\": \(kernel), \"padding\": \(padding), "
              + "\"stride\": \(stride), \"groups\": \(groups), \"threads\": \(Parallel.threadCount), "
              + "\"isa_level\": \(Kernels.gemmISALevel), \"runs\": \(common.runs), "
              + "\"ms\": \(fmt(ms)), \"gflops\": \(fmt(flops / ms / 1e6)), "
              + "\"cpu_ms\": \(fmt(cpu)), \"gflops_per_cpu_second\": \(fmt(flops / cpu / 1e6))}")
    }
}

struct GEMMBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gemm", abstract: "Time Kernels.gemm on square sizes.")
    @OptionGroup var common: Common
    @Option(parsing: .upToNextOption) var sizes: [Int] = [256, 512, 1024, 2048]

    func run() {
        common.apply()
        for n in sizes {
            let a = randomTensor([n, n], seed: 1), b = randomTensor([n, n], seed: 2)
            let c = Tensor(zeros: [n, n])
            let (ms, cpu) = medianMilliseconds(runs: common.runs, warmup: common.warmup) {
                Kernels.gemm(m: n, n: n, k: n, a: a.data, rowStrideA: n, colStrideA: 1,
                             b: b.data, rowStrideB: n, colStrideB: 1,
                             c: c.data, rowStrideC: n, colStrideC: 1)
            }
            let flops = 2.0 * Double(n) * Double(n) * Double(n)
            print("{\"bench\": \"gemm\", \"m\": \(n), \"n\": \(n), \"k\": \(n), \"threads\": \(Parallel.threadCount), "
                  + "\"isa_level\": \(Kernels.gemmISALevel), \"runs\": \(common.runs), "
                  + "\"ms\": \(fmt(ms)), \"gflops\": \(fmt(flops / ms / 1e6)), "
              + "\"cpu_ms\": \(fmt(cpu)), \"gflops_per_cpu_second\": \(fmt(flops / cpu / 1e6))}")
        }
    }
}

struct WinogradBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "winograd",
        abstract: "Time a 3×3 stride-1 convolution (cached weights) as direct and as each Winograd variant, with the cost model's pick.")
    @OptionGroup var common: Common
    @Option var batch = 1
    @Option var channels = 64
    @Option var size = 56
    @Option var outChannels = 64
    @Option(help: "Only these algorithms (direct, 2, 4, 6, 2r, 4r, 6r: r = tiles as rows); default all.")
    var only: [String] = []

    func run() {
        common.apply()
        let x = randomTensor([batch, channels, size, size], seed: 1)
        let w = randomTensor([outChannels, channels, 3, 3], seed: 2)
        let attrs = Conv2dAttributes(padding: Pair2(1, 1))
        let chosen = Kernels.conv2dWeightLayout(input: x.shape, weight: w.shape, attrs)
        let direct = Kernels.conv2dWeightLayout(input: x.shape, weight: [outChannels, channels, 3, 1], attrs)
        let flops = 2.0 * Double(batch * outChannels * size * size) * Double(channels * 9)
        var layouts = [direct == .transposed ? ConvWeightLayout.transposed : .direct]
        for m in [2, 4, 6] { for rows in [false, true] { layouts.append(.winograd(m: m, tilesAsRows: rows)) } }
        for layout in layouts {
            if !only.isEmpty {
                let key: String
                if case .winograd(let m, let rows) = layout { key = "\(m)" + (rows ? "r" : "") } else { key = "direct" }
                if !only.contains(key) { continue }
            }
            let packed = PackedConvWeights(weight: w, groups: 1, layout: layout)
            let (ms, cpu) = medianMilliseconds(runs: common.runs, warmup: common.warmup) {
                _ = Kernels.conv2d(x, weight: w, bias: nil, attrs, packedWeights: packed)
            }
            print("{\"bench\": \"winograd\", \"batch\": \(batch), \"channels\": \(channels), \"size\": \(size), "
                  + "\"out_channels\": \(outChannels), \"algorithm\": \"\(layout)\", \"chosen\": \(layout == chosen), "
                  + "\"threads\": \(Parallel.threadCount), \"isa_level\": \(Kernels.gemmISALevel), "
                  + "\"ms\": \(fmt(ms)), \"direct_gflops\": \(fmt(flops / ms / 1e6)), \"cpu_ms\": \(fmt(cpu))}")
        }
    }
}

struct ProfileBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Per-node profile of a model: its forward pass, then one PRP heatmap (CaBRNet composite, location max): the forward with kept activations and the rules' forward-only work, and the backward.",
        discussion: "Per node: minimum wall time over the timed runs, the direct-equivalent GFLOP of its convolutions (2·N·Cout·Cin/groups·kH·kW·Ho·Wo), their GFLOP/s and % of --peak, and the algorithm each ran.")
    @OptionGroup var common: Common
    @Option(help: "Model file (a ProtoPNet-style model: its graph ends in prototype distances).")
    var model: String
    @Option(help: "Prototype explained (default 0).")
    var prototype = 0
    @Option(help: "Input height and width (default: the model's declared input shape).")
    var size: Int?
    @Option(help: "FLOP/s peak of the machine for the % column.")
    var peak = 232e9
    @Option(help: "Rows with less than this share of their phase's time are folded into 'other'.")
    var minShare = 0.005

    func run() throws {
        common.apply()
        let graph = try ModelFile.load(path: model)
        var shape = graph.inputs[0].shape
        shape[0] = 1
        if let size { shape[2] = size; shape[3] = size }
        let x = randomTensor(shape, seed: 1)
        let explainer = try Explainer(model: graph, config: ExplainerConfig(composite: PRPCompositeOptions()))
        let propagator = explainer.prpExplainer.propagator
        var best: [String: (PassProfile.Entry, Int)] = [:]   // phase + node → fastest entry, order
        var order = 0
        func keep(_ p: PassProfile) {
            for e in p.entries {
                let key = e.phase + "\u{0}" + e.node
                if let (old, o) = best[key] { if e.seconds < old.seconds { best[key] = (e, o) } } else { best[key] = (e, order); order += 1 }
            }
        }
        var totals: [String: [Double]] = [:]
        for run in 0..<(common.warmup + max(common.runs, 1)) {
            let timed = run >= common.warmup
            let pf = PassProfile(), pp = PassProfile(), pb = PassProfile()
            let t0 = PassProfile.now()
            _ = try graph.forward([x], profile: pf)
            let t1 = PassProfile.now()
            let state = try propagator.prepare([x], profile: pp)
            let t2 = PassProfile.now()
            let sim = state.outputs[0]
            let hw = sim.shape[2] * sim.shape[3]
            let start = Tensor(zeros: sim.shape)
            let map = sim.data + prototype * hw
            var at = 0
            for l in 1..<max(hw, 1) where map[l] > map[at] { at = l }
            start.data[prototype * hw + at] = map[at]
            let t3 = PassProfile.now()
            _ = try propagator.propagate(state, start: start, profile: pb)
            let t4 = PassProfile.now()
            if timed {
                keep(pf); keep(pp); keep(pb)
                totals["forward", default: []].append(t1 - t0)
                totals["PRP forward + rule forward", default: []].append(t2 - t1)
                totals["PRP backward", default: []].append(t4 - t3)
            }
        }
        let entries = best.values.sorted { $0.1 < $1.1 }.map(\.0)
        print("prpkit profile: \(model), input \(shape), \(Parallel.threadCount) threads, ISA level \(Kernels.gemmISALevel), "
              + "min over \(common.runs) runs after \(common.warmup) warm-up; GFLOP = direct-equivalent convolution FLOPs")
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        func f(_ v: Double, _ d: Int) -> String {
            let p = pow(10.0, Double(d)), r = (v * p).rounded() / p
            var t = "\(r)"
            if let dot = t.firstIndex(of: ".") { let decimals = t.distance(from: dot, to: t.endIndex) - 1; if decimals < d { t += String(repeating: "0", count: d - decimals) } } else if d > 0 { t += "." + String(repeating: "0", count: d) }
            return t
        }
        for phase in ["forward", "rule forward", "backward"] {
            let rows = entries.filter { $0.phase == phase }
            let total = rows.reduce(0) { $0 + $1.seconds }
            let flops = rows.reduce(0) { $0 + $1.convolutions.reduce(0) { $0 + $1.flops } }
            let title = phase == "forward" ? "forward (plain forward pass; in PRP the same per-node work runs with activations kept)"
                : phase == "rule forward" ? "PRP rule forward (z^B, alpha1beta0 z+, StackedSum and similarity denominators)" : "PRP backward (one heatmap, location max)"
            print("\n## \(title)")
            print("| node | op | ms | GFLOP | GFLOP/s | % peak | algorithm |")
            print("|---|---|---|---|---|---|---|")
            var other = 0.0, otherFlops = 0.0
            for e in rows {
                let g = e.convolutions.reduce(0) { $0 + $1.flops }
                if e.seconds < minShare * total { other += e.seconds; otherFlops += g; continue }
                let algos = Array(Set(e.convolutions.map(\.algorithm))).sorted().joined(separator: " + ")
                let rate = g > 0 ? g / e.seconds / 1e9 : 0
                print("| \(e.node) | \(e.op) | \(f(e.seconds * 1e3, 3)) | \(g > 0 ? f(g / 1e9, 3) : "") | "
                      + "\(g > 0 ? f(rate, 1) : "") | \(g > 0 ? f(100 * rate * 1e9 / peak, 1) : "") | \(algos) |")
            }
            if other > 0 { print("| (\(rows.count) nodes under \(f(minShare * 100, 1)) % each) | | \(f(other * 1e3, 3)) | \(otherFlops > 0 ? f(otherFlops / 1e9, 3) : "") | | | |") }
            let rate = flops / total / 1e9
            print("| **total** (sum of node minima) | | **\(f(total * 1e3, 2))** | \(f(flops / 1e9, 2)) | \(f(rate, 1)) | \(f(100 * rate * 1e9 / peak, 1)) | |")
        }
        print("\nwall time per pass (median over runs): "
              + totals.keys.sorted().map { "\($0) \(f(median(totals[$0]!) * 1e3, 1)) ms" }.joined(separator: ", "))
    }
}
