// prpkit-run: the command-line front of the Swift core, for scripts and harnesses.
//   prpkit-run info    --model M.prpkit [--json]  (every command also takes --threads N)
//   prpkit-run forward --model M.prpkit --input X.safetensors [--tensor input_0]
//   prpkit-run prp     --model M.prpkit --input X.safetensors --prototypes 0,3 [--location max|H,W|all] [--threshold T] [--out R.safetensors]
// --location and --threshold mean what they mean for `prpkit explain` (the Python CLI).
import ArgumentParser
import Foundation
import PRPKit

@main
struct PRPKitRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prpkit-run",
        abstract: "Forward passes and PRP relevance maps of prpkit model files.",
        version: "prpkit-run \(PRPKitVersion.string)",
        subcommands: [Info.self, Forward.self, PRPCommand.self])
}

struct ModelOption: ParsableArguments {
    @Option(help: "A prpkit model file (docs/model-format.md).")
    var model: String
    @Option(help: "Worker threads (default: $PRPKIT_NUM_THREADS, else every online core).")
    var threads: Int?

    /// Loads the model; applies --threads first, since every later step runs kernels.
    func load() throws -> Graph {
        if let threads {
            guard threads > 0, threads <= Parallel.maximumThreads else {
                throw ValidationError("--threads must be in 1...\(Parallel.maximumThreads), got \(threads)")
            }
            Parallel.threadCount = threads
        }
        return try ModelFile.load(path: model)
    }
}

struct InputOptions: ParsableArguments {
    @Option(help: "A safetensors file holding the input tensor (float32, NCHW).")
    var input: String
    @Option(help: "Name of the input tensor in that file.")
    var tensor: String = "input_0"

    func load() throws -> Tensor {
        let file = try SafeTensors.read(path: input)
        guard let t = file.tensors[tensor] else {
            throw ValidationError("\(input) has no tensor '\(tensor)' (it has \(file.tensors.keys.sorted().joined(separator: ", ")))")
        }
        return t
    }
}

/// One line per tensor: shape, min, max, sum.
func summary(_ name: String, _ t: Tensor) -> String {
    let v = t.buffer
    let lo = v.min() ?? 0, hi = v.max() ?? 0
    let sum = v.reduce(Double(0)) { $0 + Double($1) }
    return "\(name): shape \(t.shape) min \(lo) max \(hi) sum \(sum)"
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's graph, shapes, parameter count and PRP rules (the text of `prpkit info`).")
    @OptionGroup var model: ModelOption
    @Flag(help: "Print the description as JSON.")
    var json = false

    func run() throws {
        let g = try model.load()
        let summary = try ModelSummary(model: g, path: model.model, metadata: try sidecar(of: model.model))
        print(json ? JSONWriter.write(summary.json) : summary.text, terminator: json ? "\n" : "")
    }
}

/// The model's sidecar metadata (`prpkit convert` writes it): M.json beside M.prpkit, as
/// the Python CLI finds it (the last extension of the file name replaced); nil if absent.
func sidecar(of modelPath: String) throws -> JSONValue? {
    let slash = modelPath.lastIndex(of: "/").map { modelPath.index(after: $0) } ?? modelPath.startIndex
    let name = modelPath[slash...]
    let stem = name.drop { $0 == "." }  // leading dots do not start an extension
    let root = stem.lastIndex(of: ".").map { String(modelPath[..<$0]) } ?? modelPath
    let path = root + ".json"
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ValidationError("\(path): unreadable model metadata")
    }
    do { return try JSONParser.parse([UInt8](data)) } catch {
        throw ValidationError("\(path): unreadable model metadata (\(error))")
    }
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a forward pass and summarise each output.")
    @OptionGroup var model: ModelOption
    @OptionGroup var input: InputOptions

    func run() throws {
        let g = try model.load()
        let result = try g.forward([try input.load()])
        for (name, t) in zip(g.outputs, result.outputs) {
            print(summary(name, t))
            if t.rank == 2 {
                for row in 0..<t.shape[0] {
                    let values = Array(t.buffer[(row * t.shape[1])..<((row + 1) * t.shape[1])])
                    let best = values.indices.max { values[$0] < values[$1] }!
                    print("  example \(row): argmax \(best) (\(values[best]))")
                }
            }
        }
    }
}

struct PRPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prp", abstract: "PRP relevance of prototypes (CaBRNet's composite), one batched backward pass.")
    @OptionGroup var model: ModelOption
    @OptionGroup var input: InputOptions
    @Option(help: "Comma-separated prototype indices.")
    var prototypes: String
    @Option(help: "max (the most similar location), H,W (one location), or all (every location with similarity ≥ --threshold, summed).")
    var location: String = "max"
    @Option(help: "Similarity threshold for --location all.")
    var threshold: Float = 0.1
    @Option(help: "Write the relevance (N·K, C, H, W) and similarity maps to this safetensors file.")
    var out: String?

    func parsedLocation() throws -> PRPLocation {
        if location == "max" { return .max }
        if location == "all" { return .threshold(threshold) }
        let parts = location.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let h = parts[0], let w = parts[1] else {
            throw ValidationError("--location: expected max, all or H,W (e.g. 3,4), got '\(location)'")
        }
        return .at(h: h, w: w)
    }

    func run() throws {
        let ids = try prototypes.split(separator: ",").map { s -> Int in
            guard let i = Int(s) else { throw ValidationError("--prototypes must be integers, got '\(s)'") }
            return i
        }
        let explainer = try Explainer(model: try model.load(), config: ExplainerConfig(composite: PRPCompositeOptions()))
        let maps = try explainer.prpExplainer.explain(try input.load(), prototypes: ids, location: try parsedLocation())
        print(summary("similarity", maps.similarity))
        let per = maps.relevance.count / maps.relevance.shape[0]
        for (row, seeds) in maps.seeds.enumerated() {
            let slice = try Tensor(shape: Array(maps.relevance.shape.dropFirst()),
                                   values: Array(maps.relevance.buffer[(row * per)..<((row + 1) * per)]))
            print(summary("relevance[\(row)] prototype \(ids[row % ids.count]) seeds \(seeds)", slice))
        }
        if let out {
            try SafeTensors.write([("relevance", maps.relevance), ("similarity", maps.similarity)], metadata: [:], path: out)
            print("wrote \(out)")
        }
    }
}
