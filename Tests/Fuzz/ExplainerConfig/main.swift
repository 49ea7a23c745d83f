// Fuzz target: an explainer configuration (the rules JSON of prpkit_explainer_create)
// on a fixed prototype model (examples/c/tiny_prp.prpk), through the C ABI.
// Properties checked on every input:
//   - a rejected configuration returns an error status with a message and *out NULL;
//   - an accepted one yields an explainer whose rules JSON is well-formed JSON (it is
//     read back with prpkit's parser) and re-creates an explainer with the same rules
//     when passed back as {"rules": {"by_node": …}} for the same graph.
// Seeds: Tests/Fuzz/corpus/config. Build and run: scripts/fuzz.sh.
import PRPKit
import PRPKitCABI
import prpkit_fuzz_Driver

let fixture = #filePath.split(separator: "/").dropLast(4).joined(separator: "/")
let model: OpaquePointer = {
    var m: OpaquePointer? = nil
    guard prpkit_model_load("/" + fixture + "/examples/c/tiny_prp.prpk", &m) == 0, let m else {
        finding("cannot load the fixture model: \(String(cString: prpkit_last_error()))")
    }
    return m
}()

func rulesJSON(_ e: OpaquePointer) -> String {
    var length = 0
    _ = prpkit_explainer_rules_json(e, nil, 0, &length)
    var buffer = [CChar](repeating: 0, count: length + 1)
    guard prpkit_explainer_rules_json(e, &buffer, buffer.count, &length) == 0 else {
        finding("rules_json failed: \(String(cString: prpkit_last_error()))")
    }
    return String(cString: buffer)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExplainerConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // The ABI takes a NUL-terminated string: bytes up to the first NUL.
    var text = [CChar](repeating: 0, count: size + 1)
    for i in 0..<size { text[i] = CChar(bitPattern: data![i]) }
    var explainer: OpaquePointer? = OpaquePointer(bitPattern: 1)
    let status = prpkit_explainer_create(model, text, &explainer)
    guard status == 0 else {
        if explainer != nil { finding("failed create (status \(status)) left *out set") }
        if prpkit_last_error().pointee == 0 { finding("status \(status) without a message") }
        return 0
    }
    guard let explainer else { finding("successful create without an explainer") }
    defer { prpkit_explainer_free(explainer) }
    let rules = rulesJSON(explainer)
    guard case .object(let members)? = try? JSONParser.parse(rules) else { finding("rules JSON does not parse: \(rules)") }

    // The same rules, given explicitly node by node on the explainer's own graph, must
    // reproduce themselves (nodes with an ordinary backward are left out).
    var graph: OpaquePointer? = nil
    guard prpkit_explainer_model(explainer, &graph) == 0, let graph else { finding("explainer_model failed") }
    defer { prpkit_model_free(graph) }
    let byNode = JSONValue.object(members.filter { $0.1 != .null })
    let config = JSONWriter.write(.object([("rules", .object([("by_node", byNode)]))]))
    var again: OpaquePointer? = nil
    guard prpkit_explainer_create(graph, config, &again) == 0, let again else {
        finding("its own rules are rejected: \(String(cString: prpkit_last_error())) for \(config)")
    }
    defer { prpkit_explainer_free(again) }
    let round = rulesJSON(again)
    if (try? JSONParser.parse(round)) != .object(members) { finding("rules do not round-trip:\n\(rules)\n\(round)") }
    return 0
}

runFuzzer(fuzzExplainerConfig)
