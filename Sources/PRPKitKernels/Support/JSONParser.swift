/// A strict JSON parser (RFC 8259): UTF-8 bytes → `JSONValue`.
///
/// Strict means: no comments, no trailing commas, no leading zeros, no NaN/Infinity,
/// no byte-order mark, no unescaped control characters, valid UTF-8 only, no lone
/// surrogates in `\u` escapes, no duplicate object keys, nothing but whitespace after
/// the value. Nesting deeper than `maxDepth` is rejected, so hostile input cannot
/// exhaust the stack, and so is a document whose tree would take more than
/// `memoryRatio` times its own size (plus `memorySlack` bytes) in memory — e.g. a long
/// array of one-digit numbers — so hostile input cannot exhaust memory either. Every
/// error is `PRPKitError.invalidModel` naming the byte offset.
public enum JSONParser {
    /// Default limit on nested arrays/objects.
    public static let defaultMaxDepth = 64
    /// A parsed value may take at most this many bytes of memory per byte of its text…
    public static let memoryRatio = 8
    /// …plus this many (small documents of tiny values stay acceptable).
    public static let memorySlack = 64 << 10

    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        let value = try reader.parseValue(depth: 0)
        reader.skipWhitespace()
        if reader.position != bytes.count { throw reader.error("unexpected content after the JSON value") }
        return value
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, maxDepth: maxDepth) }
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    package struct Reader {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var position = 0
        /// Estimated bytes of the tree built since `budgetStart` (see `charge`).
        var cost = 0
        var budgetStart = 0
        /// Items of the containers being parsed; each container is copied out at its
        /// end with exact capacity, so trees hold no growth slack.
        var items: [JSONValue] = []
        var members: [(String, JSONValue)] = []

        init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        /// Starts a new memory budget at the current position (one value's tree).
        mutating func resetBudget() {
            cost = 0
            budgetStart = position
        }

        /// Adds `bytes` to the tree's estimated size and throws once it exceeds the budget
        /// for the text read so far.
        mutating func charge(_ bytes: Int) throws {
            cost += bytes
            let allowed = JSONParser.memoryRatio * (position - budgetStart) + JSONParser.memorySlack
            if cost > allowed {
                throw error("the document would take more than \(JSONParser.memoryRatio)× its size in memory (too many tiny values)")
            }
        }

        /// Heap bytes of a string (Swift stores up to 15 UTF-8 bytes inline).
        static func heapSize(_ s: String) -> Int { s.utf8.count > 15 ? 32 + s.utf8.count : 0 }

        static let containerOverhead = 48  // array header + allocator bookkeeping

        func error(_ message: String, at offset: Int? = nil) -> PRPKitError {
            .invalidModel("invalid JSON at byte \(offset ?? position): \(message)")
        }

        var atEnd: Bool { position >= bytes.count }
        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            guard current == byte else { throw error("expected \(what)\(describeCurrent())") }
            position += 1
        }

        func describeCurrent() -> String {
            guard let b = current else { return ", found end of input" }
            if b >= 0x21 && b < 0x7F { return ", found '\(Character(Unicode.Scalar(b)))'" }
            return ", found byte 0x\(String(b, radix: 16))"
        }

        mutating func parseValue(depth: Int) throws -> JSONValue {
            guard let b = current else { throw error("expected a value, found end of input") }
            switch b {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""):
                let string = try parseString()
                try charge(Reader.heapSize(string))
                return .string(string)
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw error("expected a value\(describeCurrent())")
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let start = position
            let count = word.utf8CodeUnitCount
            guard bytes.count - position >= count else { throw error("invalid literal", at: start) }
            for i in 0..<count where bytes[position + i] != word.utf8Start[i] {
                throw error("invalid literal", at: start)
            }
            position += count
        }

        mutating func parseObject(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            position += 1  // {
            let base = members.count
            defer { members.removeSubrange(base...) }
            var keys = KeySet()
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object([]) }
            while true {
                skipWhitespace()
                let keyOffset = position
                guard current == UInt8(ascii: "\"") else { throw error("expected a string key\(describeCurrent())") }
                let key = try parseString()
                guard keys.insert(key) else { throw error("duplicate key '\(key)'", at: keyOffset) }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after an object key")
                skipWhitespace()
                let value = try parseValue(depth: depth)
                members.append((key, value))
                // The member, its key's heap bytes and the duplicate-key set entry.
                try charge(MemoryLayout<(String, JSONValue)>.stride + 2 * Reader.heapSize(key) + 16)
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "}"), "',' or '}' in an object")
                try charge(Reader.containerOverhead)
                return .object(Array(members[base...]))
            }
        }

        mutating func parseArray(depth: Int) throws -> JSONValue {
            guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            position += 1  // [
            let base = items.count
            defer { items.removeSubrange(base...) }
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array([]) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth))
                try charge(MemoryLayout<JSONValue>.stride)
                skipWhitespace()
                if current == UInt8(ascii: ",") { position += 1; continue }
                try expect(UInt8(ascii: "]"), "',' or ']' in an array")
                try charge(Reader.containerOverhead)
                return .array(Array(items[base...]))
            }
        }

        /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, converted with correct rounding.
        mutating func parseNumber() throws -> Double {
            let start = position
            func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            if current == UInt8(ascii: "-") { position += 1 }
            guard isDigit(current) else { throw error("expected a digit\(describeCurrent())") }
            if current == UInt8(ascii: "0") {
                position += 1
                if isDigit(current) { throw error("leading zeros are not allowed", at: start) }
            } else {
                while isDigit(current) { position += 1 }
            }
            if current == UInt8(ascii: ".") {
                position += 1
                guard isDigit(current) else { throw error("expected a digit after '.'\(describeCurrent())") }
                while isDigit(current) { position += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard isDigit(current) else { throw error("expected a digit in the exponent\(describeCurrent())") }
                while isDigit(current) { position += 1 }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw error("number \(text) is out of the range of a double", at: start)
            }
            return value
        }

        mutating func parseHex4() throws -> UInt32 {
            guard bytes.count - position >= 4 else { throw error("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let b = bytes[position]
                let d: UInt8
                switch b {
                case 0x30...0x39: d = b - 0x30
                case 0x41...0x46: d = b - 0x41 + 10
                case 0x61...0x66: d = b - 0x61 + 10
                default: throw error("invalid hex digit in \\u escape")
                }
                v = v << 4 | UInt32(d)
                position += 1
            }
            return v
        }

        /// Parses a string starting at its opening quote; validates UTF-8 and escapes.
        mutating func parseString() throws -> String {
            let start = position
            position += 1  // opening quote
            var out: [UInt8] = []
            var runStart = position
            func flush(_ out: inout [UInt8], _ from: Int, _ to: Int) {
                if to > from { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[from..<to])) }
            }
            while true {
                guard let b = current else { throw error("unterminated string", at: start) }
                if b == UInt8(ascii: "\"") {
                    flush(&out, runStart, position)
                    position += 1
                    break
                }
                if b < 0x20 { throw error("unescaped control character 0x\(String(b, radix: 16)) in a string") }
                if b == UInt8(ascii: "\\") {
                    flush(&out, runStart, position)
                    let escapeOffset = position
                    position += 1
                    guard let e = current else { throw error("unterminated string", at: start) }
                    position += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try parseHex4()
                        if scalar >= 0xD800 && scalar <= 0xDBFF {
                            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                                  bytes[position + 1] == UInt8(ascii: "u") else {
                                throw error("high surrogate without a following low surrogate", at: escapeOffset)
                            }
                            position += 2
                            let low = try parseHex4()
                            guard low >= 0xDC00 && low <= 0xDFFF else {
                                throw error("high surrogate followed by a non-low surrogate", at: escapeOffset)
                            }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                            throw error("lone low surrogate", at: escapeOffset)
                        }
                        out.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(scalar)!)!)
                    default:
                        throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: escapeOffset)
                    }
                    runStart = position
                    continue
                }
                if b < 0x80 { position += 1; continue }
                position += try utf8SequenceLength(at: position)
            }
            return String(decoding: out, as: UTF8.self)
        }

        /// Length of the well-formed UTF-8 sequence at `offset` (lead byte ≥ 0x80), or throws.
        func utf8SequenceLength(at offset: Int) throws -> Int {
            let b0 = bytes[offset]
            let length: Int
            var lower: UInt8 = 0x80, upper: UInt8 = 0xBF  // bounds of the second byte
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F  // no surrogates
            case 0xF0: length = 4; lower = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F
            default: throw error("invalid UTF-8 byte 0x\(String(b0, radix: 16))", at: offset)
            }
            guard bytes.count - offset >= length else { throw error("truncated UTF-8 sequence", at: offset) }
            for i in 1..<length {
                let b = bytes[offset + i]
                let ok = i == 1 ? (b >= lower && b <= upper) : (b >= 0x80 && b <= 0xBF)
                if !ok { throw error("invalid UTF-8 sequence", at: offset) }
            }
            return length
        }
    }
}

/// The keys of one object, for duplicate detection: a scan while the object is small
/// (most are: no hashing, no allocation), a hash set beyond.
package struct KeySet {
    private var few: [String] = []
    private var many: Set<String>? = nil

    /// Adds `key`; false when it was already there.
    mutating package func insert(_ key: String) -> Bool {
        if many == nil {
            if few.contains(key) { return false }
            if few.count < 16 { few.append(key); return true }
            many = Set(few)
            few = []
        }
        return many!.insert(key).inserted
    }
}
