// prp-example MODEL [EXPECTED]: loads a prpkit model file of a ProtoPNet, runs a forward
// pass on a deterministic input (x[i] = ((i * 37) % 17) / 8 - 1, as examples/c/prp.c),
// computes the PRP heatmap of prototype 1 at its most similar location with CaBRNet's
// composite and post-processing (absolute polarity, Gaussian σ = 1, bicubic resize to
// 20×30), and prints a summary. With EXPECTED (examples/c/tiny_prp.expected, written from
// CaBRNet + Captum), it also checks the location and the relevance and heatmap sums
// against it (1e-4 relative) and exits 1 on a mismatch.
import PRPKit

#if canImport(Glibc)
import Glibc
#endif

/// The text of a file (no Foundation: the example needs only PRPKit and the C library).
func readText(_ path: String) -> String? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func fail(_ message: String) -> Never {
    print("prp-example: \(message)")
    exit(1)
}

let args = CommandLine.arguments
guard args.count >= 2 else { fail("usage: prp-example MODEL [EXPECTED]") }
print("prpkit \(PRPKitVersion.string)")

do {
    let model = try ModelFile.load(path: args[1])
    let shape = model.inputs[0].shape
    let count = shape.reduce(1, *)
    let x = try Tensor(shape: shape, values: (0..<count).map { Float(($0 * 37) % 17) / 8 - 1 })

    let forward = try model.forward([x])
    for (name, output) in zip(model.outputs, forward.outputs) {
        print("forward: \(name) \(output.shape)")
    }

    let explainer = try Explainer(model: model, config: ExplainerConfig(composite: PRPCompositeOptions()))
    let prototype = 1
    let maps = try explainer.prpExplainer.explain(x, prototypes: [prototype], location: .max)
    let relevance = try Tensor(shape: Array(maps.relevance.shape.dropFirst()), values: Array(maps.relevance.buffer))
    let heatmap = try PostProcess.postProcess(
        relevance, options: PostProcessOptions(polarity: .absolute, gaussianSigma: 1, outputSize: Pair2(20, 30)))
    let relevanceSum = relevance.buffer.reduce(0.0) { $0 + Double($1) }
    let heatmapMax = heatmap.buffer.map { abs($0) }.max() ?? 0
    print("prp: prototype \(prototype) seeds \(maps.seeds[0]) relevance \(relevance.shape) sum \(relevanceSum)")
    print("prp: heatmap \(heatmap.shape) max \(heatmapMax)")

    if args.count >= 3 {
        guard let text = readText(args[2]) else { fail("cannot read \(args[2])") }
        var want: [String: [Double]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ").map(String.init)
            want[parts[0] + (parts[0] == "prototype" || parts[0].hasPrefix("relevance_") ? " " + parts[1] : "")] =
                parts.dropFirst().compactMap(Double.init)
        }
        guard let location = want["prototype 0"], let sum = want["relevance_sum 0"]?.last,
              let heatMax = want["heatmap_maxabs"]?.last else { fail("\(args[2]) lacks the expected entries") }
        let seeds = maps.seeds[0]
        guard Int(location[1]) == prototype, seeds.count == 1 else { fail("unexpected seeds \(seeds)") }
        let h = seeds[0] / maps.similarity.shape[3], w = seeds[0] % maps.similarity.shape[3]
        guard (h, w) == (Int(location[2]), Int(location[3])) else { fail("max at (\(h), \(w)), want \(location)") }
        guard abs(relevanceSum - sum) <= 1e-4 * abs(sum) else { fail("relevance sum \(relevanceSum), want \(sum)") }
        guard abs(Double(heatmapMax) - heatMax) <= 1e-4 * heatMax else { fail("heatmap max \(heatmapMax), want \(heatMax)") }
        print("prp-example: matches \(args[2]) (CaBRNet + Captum), tolerance 1e-4 relative")
    }
} catch {
    fail("\(error)")
}
