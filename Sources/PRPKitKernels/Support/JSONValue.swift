/// A parsed JSON document. The model file carries its graph as JSON; prpkit parses it
/// itself (no Foundation in the shipped library) — see JSONParser / JSONWriter.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// JSON numbers are kept as Double; integers up to 2^53 round-trip exactly.
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Key order is kept so that written files are deterministic.
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }
}
