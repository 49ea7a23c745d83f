import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// Access to the generated fixtures in `Tests/PRPKitTests/Fixtures/` (regenerate with
/// `python3 tools/make_fixtures.py`).
///
/// Each fixture is a pair of files: `<name>.prpkit` (a prpkit model file) and
/// `<name>.io.safetensors` (tensors `input_0`, `input_1`, … and `expected_0`, …
/// computed by PyTorch / CaBRNet).
enum Fixtures {
    /// Absolute path of the fixture folder, found next to this source file.
    static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").path

    /// One fixture: its graph and its reference inputs and outputs.
    struct Case {
        /// `<group>/<name>`, e.g. `kernels/conv2d_k3_basic`; used in failure messages.
        let id: String
        let graph: Graph
        let inputs: [Tensor]
        let expected: [Tensor]
    }

    /// Fixture names (without extensions) in `group` ("kernels" or "models"), sorted.
    static func names(in group: String) throws -> [String] {
        let dir = root + "/" + group
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        return files.filter { $0.hasSuffix(".prpkit") }.map { String($0.dropLast(".prpkit".count)) }.sorted()
    }

    /// Loads `<group>/<name>.prpkit` and its io file.
    static func load(_ group: String, _ name: String) throws -> Case {
        let base = root + "/" + group + "/" + name
        let id = group + "/" + name
        let graph: Graph
        do { graph = try ModelFile.load(path: base + ".prpkit") } catch {
            throw FixtureError("fixture \(id): cannot load model file: \(error)")
        }
        let io: [String: Tensor]
        do { io = try SafeTensors.read(path: base + ".io.safetensors").tensors } catch {
            throw FixtureError("fixture \(id): cannot read io file: \(error)")
        }
        func series(_ prefix: String) -> [Tensor] {
            var out: [Tensor] = []
            while let t = io["\(prefix)_\(out.count)"] { out.append(t) }
            return out
        }
        let inputs = series("input"), expected = series("expected")
        guard !inputs.isEmpty, !expected.isEmpty else {
            throw FixtureError("fixture \(id): io file lacks input_0 or expected_0 (has \(io.keys.sorted()))")
        }
        return Case(id: id, graph: graph, inputs: inputs, expected: expected)
    }

    /// All fixtures of a group, each loaded; throws on the first one that fails to load.
    static func all(in group: String) throws -> [Case] {
        try names(in: group).map { try load(group, $0) }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Largest elementwise difference between two tensors and where it occurs.
struct Comparison {
    let maxDiff: Float
    let maxAbsExpected: Float
    let worstIndex: Int
    let got: Float
    let expected: Float

    init(_ got: Tensor, _ expected: Tensor) {
        var maxDiff: Float = 0, maxAbs: Float = 0, worst = 0
        let g = got.buffer, e = expected.buffer
        for i in 0..<min(g.count, e.count) {
            maxAbs = max(maxAbs, abs(e[i]))
            let d: Float
            if g[i] == e[i] { d = 0 }  // also equal infinities
            else if g[i].isNaN || e[i].isNaN { d = .infinity }
            else { d = abs(g[i] - e[i]) }
            if d > maxDiff || (d.isNaN && !maxDiff.isNaN) { maxDiff = d; worst = i }
        }
        self.maxDiff = maxDiff
        self.maxAbsExpected = maxAbs
        self.worstIndex = worst
        self.got = g.isEmpty ? 0 : g[worst]
        self.expected = e.isEmpty ? 0 : e[worst]
    }

    func describe(_ shape: [Int]) -> String {
        var rest = worstIndex, idx = [Int](repeating: 0, count: shape.count)
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
            idx[d] = rest % shape[d]; rest /= shape[d]
        }
        return "max|diff| = \(maxDiff) at \(idx) (got \(got), expected \(expected)), max|expected| = \(maxAbsExpected)"
    }
}

/// How closely an output must match: `scale` × max(floor, max|expected|), or exact.
struct Tolerance {
    let scale: Float
    let floor: Float
    static let exact = Tolerance(scale: 0, floor: 0)
    static func relative(_ scale: Float, floor: Float = 1) -> Tolerance { Tolerance(scale: scale, floor: floor) }
    func bound(_ maxAbsExpected: Float) -> Float { scale * max(floor, maxAbsExpected) }
    var text: String { scale == 0 ? "exact" : "\(scale)·max(\(floor), max|expected|)" }
}

extension XCTestCase {
    /// Runs `fixture` through `Graph.forward` and checks every output against its
    /// expected tensor. Returns one summary line per output.
    @discardableResult
    func checkFixture(_ fixture: Fixtures.Case, tolerance: Tolerance,
                      file: StaticString = #filePath, line: UInt = #line) -> [String] {
        let result: ForwardResult
        do { result = try fixture.graph.forward(fixture.inputs) } catch {
            XCTFail("fixture \(fixture.id): forward failed: \(error)", file: file, line: line)
            return ["\(fixture.id): forward failed"]
        }
        guard result.outputs.count == fixture.expected.count else {
            XCTFail("fixture \(fixture.id): \(result.outputs.count) outputs, expected \(fixture.expected.count)",
                    file: file, line: line)
            return ["\(fixture.id): wrong output count"]
        }
        var lines: [String] = []
        for (k, (got, want)) in zip(result.outputs, fixture.expected).enumerated() {
            guard got.shape == want.shape else {
                XCTFail("fixture \(fixture.id) output \(k): shape \(got.shape), expected \(want.shape)",
                        file: file, line: line)
                lines.append("\(fixture.id) output \(k): shape mismatch")
                continue
            }
            let c = Comparison(got, want)
            let bound = tolerance.bound(c.maxAbsExpected)
            let ok = c.maxDiff <= bound
            lines.append("\(ok ? "ok  " : "FAIL") \(fixture.id) output \(k): \(c.describe(want.shape)), tolerance \(tolerance.text) = \(bound)")
            if !ok {
                XCTFail("fixture \(fixture.id) output \(k): \(c.describe(want.shape)) exceeds tolerance \(tolerance.text) = \(bound)",
                        file: file, line: line)
            }
        }
        return lines
    }
}
