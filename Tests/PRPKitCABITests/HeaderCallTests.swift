import CPRPKit
import Foundation
import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The C ABI as a C caller sees it: every call goes through include/prpkit.h's declarations
/// and struct layouts (the CPRPKit module), into the library's exported functions. The
/// numbers are those of PRPKitTests' explanation fixtures (Captum's LRP, CaBRNet's PRP), so
/// a header whose structs disagree with the implementation, or an ABI layer that converts
/// wrongly, fails here; the core itself is checked by ExplainFixtureTests.
final class HeaderCallTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("PRPKitTests/Fixtures").path

    struct Case {
        let model: OpaquePointer
        /// The model file, for building the core's explainer to compare with.
        let modelPath: String
        let configJSON: String
        let spec: JSONValue
        let input: Tensor
        let expected: [Tensor]
    }

    /// Loads explain/<name>: the model through prpkit_model_load, the rest with PRPKit.
    func load(_ name: String) throws -> Case {
        let base = Self.fixtures + "/explain/" + name
        let spec = try JSONParser.parse(try String(contentsOfFile: base + ".json", encoding: .utf8))
        guard case .string(let modelPath)? = spec["model"], let config = spec["config"] else {
            throw PRPKitError.invalidArgument("\(name).json lacks model or config")
        }
        var model: OpaquePointer?
        let status = prpkit_model_load(Self.fixtures + "/" + modelPath, &model)
        guard status == Int32(PRPKIT_OK), let model else {
            throw PRPKitError.invalidArgument("prpkit_model_load: \(status) \(lastError())")
        }
        let io = try SafeTensors.read(path: base + ".io.safetensors").tensors
        var expected: [Tensor] = []
        while let t = io["expected_\(expected.count)"] { expected.append(t) }
        return Case(model: model, modelPath: Self.fixtures + "/" + modelPath, configJSON: JSONWriter.write(config), spec: spec, input: io["input_0"]!,
                    expected: expected)
    }

    func lastError() -> String { String(cString: prpkit_last_error()) }

    func explainer(_ c: Case, config: String? = nil) throws -> OpaquePointer {
        var ex: OpaquePointer?
        let status = prpkit_explainer_create(c.model, config ?? c.configJSON, &ex)
        guard status == Int32(PRPKIT_OK), let ex else {
            throw PRPKitError.invalidArgument("prpkit_explainer_create: \(status) \(lastError())")
        }
        return ex
    }

    /// max|got − expected| / max|expected| over `count` floats.
    func relativeError(_ got: UnsafePointer<Float>, _ expected: Tensor) -> Float {
        var diff: Float = 0, scale: Float = 0
        for i in 0..<expected.count {
            diff = max(diff, abs(got[i] - expected.buffer[i]))
            scale = max(scale, abs(expected.buffer[i]))
        }
        return diff / scale
    }

    func shape(_ o: prpkit_output) -> [Int] {
        withUnsafeBytes(of: o.shape) { raw in Array(raw.bindMemory(to: Int64.self).prefix(o.rank)).map(Int.init) }
    }

    /// Calls `body` with a prpkit_input over `t` (its data and an Int64 shape array).
    func withInput<R>(_ t: Tensor, _ body: (UnsafePointer<prpkit_input>) throws -> R) rethrows -> R {
        let dims = t.shape.map(Int64.init)
        return try dims.withUnsafeBufferPointer { shape in
            var input = prpkit_input(data: UnsafePointer(t.buffer.baseAddress), shape: shape.baseAddress, rank: dims.count)
            return try withUnsafePointer(to: &input) { try body($0) }
        }
    }

    // The bound is the core's (ExplainFixtureTests): the ABI adds no arithmetic, so the
    // results must be bit-identical to the core's — checked against the core directly below.

    func testPRPThroughTheHeaderEqualsTheCore() throws {
        for name in ["prp_small_trunk_max", "prp_small_trunk_at", "prp_small_trunk_threshold"] {
            let c = try load(name)
            defer { prpkit_model_free(c.model) }
            let ex = try explainer(c)
            defer { prpkit_explainer_free(ex) }
            guard case .number(let proto)? = c.spec["prototype"], let loc = c.spec["location"] else { throw PRPKitError.invalidArgument(name) }
            var options = prpkit_prp_default_options()
            let location: PRPLocation
            switch loc {
            case .string("max"): location = .max
            case .array(let hw):
                guard case .number(let h) = hw[0], case .number(let w) = hw[1] else { throw PRPKitError.invalidArgument(name) }
                options.location = Int32(PRPKIT_LOCATION_AT)
                options.h = Int64(h); options.w = Int64(w)
                location = .at(h: Int(h), w: Int(w))
            default:
                guard case .number(let t)? = loc["threshold"] else { throw PRPKitError.invalidArgument(name) }
                options.location = Int32(PRPKIT_LOCATION_THRESHOLD)
                options.threshold = Float(t)
                location = .threshold(Float(t))
            }
            var relevance = [Float](repeating: .nan, count: c.expected[0].count)
            var similarity = [Float](repeating: .nan, count: c.expected[1].count)
            var protos = [Int64(proto)]
            var rel = prpkit_output(), sim = prpkit_output()
            let status = relevance.withUnsafeMutableBufferPointer { r in
                similarity.withUnsafeMutableBufferPointer { s in
                    rel.data = r.baseAddress; rel.capacity = r.count
                    sim.data = s.baseAddress; sim.capacity = s.count
                    return withInput(c.input) { input in
                        prpkit_explainer_prp(ex, input, &protos, 1, &options, &rel, &sim)
                    }
                }
            }
            XCTAssertEqual(status, Int32(PRPKIT_OK), "\(name): \(lastError())")
            XCTAssertEqual(shape(rel), c.expected[0].shape, name)
            XCTAssertEqual(shape(sim), c.expected[1].shape, name)
            let core = try Explainer(model: try ModelFile.load(path: c.modelPath),
                                     config: try ExplainerConfig(json: c.configJSON))
                .prpExplainer.explain(c.input, prototypes: [Int(proto)], location: location)
            XCTAssertEqual(relevance, core.relevance.buffer.map { $0 }, "\(name): the ABI's relevance is not the core's")
            XCTAssertEqual(similarity, core.similarity.buffer.map { $0 }, "\(name): the ABI's similarity map is not the core's")
            relevance.withUnsafeBufferPointer { XCTAssertLessThan(relativeError($0.baseAddress!, c.expected[0]), 1e-4, name) }
        }
    }

    func testLRPThroughTheHeaderEqualsCaptum() throws {
        let c = try load("lrp_resnet_like_eps")
        defer { prpkit_model_free(c.model) }
        let ex = try explainer(c)
        defer { prpkit_explainer_free(ex) }
        guard case .array(let t)? = c.spec["targets"] else { throw PRPKitError.invalidArgument("targets") }
        var targets: [Int64] = t.map { if case .number(let v) = $0 { Int64(v) } else { -1 } }
        var relevance = [Float](repeating: .nan, count: c.expected[0].count)
        var scores = [Float](repeating: .nan, count: 2), deltas = [Float](repeating: .nan, count: 2)
        var out = prpkit_output()
        let status = relevance.withUnsafeMutableBufferPointer { r in
            out.data = r.baseAddress; out.capacity = r.count
            return withInput(c.input) { input in
                prpkit_explainer_attribute(ex, input, 1, 0, &targets, 1, &out, 1, &scores, &deltas)
            }
        }
        XCTAssertEqual(status, Int32(PRPKIT_OK), lastError())
        XCTAssertEqual(shape(out), c.expected[0].shape)
        relevance.withUnsafeBufferPointer { XCTAssertLessThan(relativeError($0.baseAddress!, c.expected[0]), 1e-4) }
        for n in 0..<2 {
            let sum = relevance[(n * c.input.count / 2)..<((n + 1) * c.input.count / 2)].reduce(0, +)
            XCTAssertEqual(deltas[n], scores[n] - sum, accuracy: 1e-4 * max(1, abs(scores[n])), "delta of example \(n)")
        }
    }

    /// Every failure is a status code and a message, and output slots too small for the
    /// result still report its shape.
    func testErrorsAreStatusesWithMessages() throws {
        let c = try load("prp_small_trunk_max")
        defer { prpkit_model_free(c.model) }
        var ex: OpaquePointer?
        XCTAssertEqual(prpkit_explainer_create(c.model, "{\"composite\": \"no_such\"}", &ex), Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
        XCTAssertNil(ex)
        XCTAssertTrue(lastError().contains("composite"), lastError())

        let good = try explainer(c)
        defer { prpkit_explainer_free(good) }
        var small = [Float](repeating: 0, count: 5)
        var rel = prpkit_output()
        var protos: [Int64] = [0]
        let status = small.withUnsafeMutableBufferPointer { r in
            rel.data = r.baseAddress; rel.capacity = r.count
            return withInput(c.input) { prpkit_explainer_prp(good, $0, &protos, 1, nil, &rel, nil) }
        }
        XCTAssertEqual(status, Int32(PRPKIT_ERROR_BUFFER_TOO_SMALL))
        XCTAssertEqual(shape(rel), c.expected[0].shape, "the needed shape is reported")
        XCTAssertFalse(lastError().isEmpty)

        protos = [99]
        var room = [Float](repeating: 0, count: c.expected[0].count)
        let outOfRange = room.withUnsafeMutableBufferPointer { r in
            rel.data = r.baseAddress; rel.capacity = r.count
            return withInput(c.input) { prpkit_explainer_prp(good, $0, &protos, 1, nil, &rel, nil) }
        }
        XCTAssertEqual(outOfRange, Int32(PRPKIT_ERROR_INVALID_ARGUMENT))
        XCTAssertTrue(lastError().contains("99"), lastError())
    }
}
