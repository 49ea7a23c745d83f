/// Reads a large JSON document piece by piece: containers member by member, each piece
/// parsed into a small `JSONValue` (under its own memory budget, see `JSONParser`) or
/// read as a scalar. A model file's header and graph are read this way, so they never
/// exist as one tree and loading stays within a small multiple of the file's size.
///
/// The same strict rules as `JSONParser` apply (duplicate keys, depth, UTF-8, numbers).
/// Syntax errors are `.invalidModel("<prefix>invalid JSON at byte N: …<suffix>")`.
package struct JSONStream {
    private var reader: JSONParser.Reader
    private var depth = 0
    private let prefix: String, suffix: String

    package init(_ bytes: UnsafeRawBufferPointer, errorPrefix: String = "", errorSuffix: String = "") {
        reader = JSONParser.Reader(bytes: bytes, maxDepth: JSONParser.defaultMaxDepth)
        prefix = errorPrefix
        suffix = errorSuffix
    }

    private func syntax(_ e: Error) -> Error {
        guard case PRPKitError.invalidModel(let m) = e else { return e }
        return PRPKitError.invalidModel(prefix + m + suffix)
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw syntax(error) }
    }

    /// The first byte of the next value (whitespace skipped); nil at the end of input.
    mutating package func peek() -> UInt8? {
        reader.skipWhitespace()
        return reader.current
    }

    /// The next value as a tree; its memory is budgeted from its first byte.
    mutating package func value() throws -> JSONValue {
        reader.skipWhitespace()
        reader.resetBudget()
        let depth = self.depth
        return try wrap { try reader.parseValue(depth: depth) }
    }

    mutating package func string() throws -> String {
        guard peek() == UInt8(ascii: "\"") else { throw syntax(reader.error("expected a string\(reader.describeCurrent())")) }
        return try wrap { try reader.parseString() }
    }

    mutating package func number() throws -> Double {
        guard let b = peek(), b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) else {
            throw syntax(reader.error("expected a number\(reader.describeCurrent())"))
        }
        return try wrap { try reader.parseNumber() }
    }

    /// Reads an object, calling `body` with each key; `body` must read the member's value.
    mutating package func object(_ body: (inout JSONStream, String) throws -> Void) throws {
        try open(UInt8(ascii: "{"), "'{'")
        defer { depth -= 1 }
        var keys = KeySet()
        if peek() == UInt8(ascii: "}") { reader.position += 1; return }
        while true {
            reader.skipWhitespace()
            let keyOffset = reader.position
            let key = try string()
            guard keys.insert(key) else { throw syntax(reader.error("duplicate key '\(key)'", at: keyOffset)) }
            reader.skipWhitespace()
            try wrap { try reader.expect(UInt8(ascii: ":"), "':' after an object key") }
            _ = peek()
            try body(&self, key)
            if try closeOrContinue(UInt8(ascii: "}"), "',' or '}' in an object") { return }
        }
    }

    /// Reads an array, calling `body` with each index; `body` must read the element.
    mutating package func array(_ body: (inout JSONStream, Int) throws -> Void) throws {
        try open(UInt8(ascii: "["), "'['")
        defer { depth -= 1 }
        if peek() == UInt8(ascii: "]") { reader.position += 1; return }
        var index = 0
        while true {
            _ = peek()
            try body(&self, index)
            index += 1
            if try closeOrContinue(UInt8(ascii: "]"), "',' or ']' in an array") { return }
        }
    }

    /// Nothing but whitespace may follow the document.
    mutating package func finish() throws {
        if peek() != nil { throw syntax(reader.error("unexpected content after the JSON value")) }
    }

    private mutating func open(_ byte: UInt8, _ what: String) throws {
        guard peek() == byte else { throw syntax(reader.error("expected \(what)\(reader.describeCurrent())")) }
        guard depth < JSONParser.defaultMaxDepth else {
            throw syntax(reader.error("nesting deeper than \(JSONParser.defaultMaxDepth) levels"))
        }
        reader.position += 1
        depth += 1
    }

    /// After a member or element: true at the closing byte, false after a comma.
    private mutating func closeOrContinue(_ close: UInt8, _ what: String) throws -> Bool {
        if peek() == UInt8(ascii: ",") { reader.position += 1; return false }
        try wrap { try reader.expect(close, what) }
        return true
    }
}
