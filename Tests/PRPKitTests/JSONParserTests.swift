import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The strict JSON parser (RFC 8259), checked against hand-written expectations.
final class JSONParserTests: XCTestCase {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    /// Asserts that parsing fails with a message containing `fragment` (and the offset).
    func assertRejects(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), file: file, line: line) { error in
            guard case PRPKitError.invalidModel(let m) = error else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(m.contains(fragment), "'\(m)' lacks '\(fragment)'", file: file, line: line)
        }
    }

    func testScalarsAndContainers() throws {
        XCTAssertEqual(try parse("null"), .null)
        XCTAssertEqual(try parse(" true "), .bool(true))
        XCTAssertEqual(try parse("false"), .bool(false))
        XCTAssertEqual(try parse("\"hi\""), .string("hi"))
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("{}"), .object([]))
        XCTAssertEqual(try parse("[1, [2, {\"a\": null}]]"),
                       .array([.number(1), .array([.number(2), .object([("a", .null)])])]))
        // Key order is kept.
        XCTAssertEqual(try parse("{\"b\":1,\"a\":2}"), .object([("b", .number(1)), ("a", .number(2))]))
        XCTAssertNotEqual(try parse("{\"b\":1,\"a\":2}"), .object([("a", .number(2)), ("b", .number(1))]))
    }

    func testNumbers() throws {
        XCTAssertEqual(try parse("0"), .number(0))
        XCTAssertEqual(try parse("-0"), .number(-0.0))
        XCTAssertEqual(try parse("12345678901234"), .number(12345678901234))
        XCTAssertEqual(try parse("-1.5e-3"), .number(-1.5e-3))
        XCTAssertEqual(try parse("2E+2"), .number(200))
        XCTAssertEqual(try parse("9.999999747378752e-06"), .number(9.999999747378752e-06))
        XCTAssertEqual(try parse("5e-324"), .number(.leastNonzeroMagnitude))
        assertRejects("01", "leading zeros")
        assertRejects("1.", "after '.'")
        assertRejects(".5", "expected a value")
        assertRejects("1e", "exponent")
        assertRejects("+1", "expected a value")
        assertRejects("-", "expected a digit")
        assertRejects("1e400", "out of the range")
        assertRejects("NaN", "expected a value")
        assertRejects("Infinity", "expected a value")
    }

    func testStringsAndEscapes() throws {
        XCTAssertEqual(try parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{08}\u{0C}\n\r\t"))
        XCTAssertEqual(try parse(#""\u00e9\u4e2d""#), .string("é中"))
        XCTAssertEqual(try parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try parse("\"é😀\""), .string("é😀"))
        assertRejects(#""\ud83d""#, "high surrogate without")
        assertRejects(#""\ud83d\u0041""#, "non-low surrogate")
        assertRejects(#""\ude00""#, "lone low surrogate")
        assertRejects(#""\x""#, "invalid escape")
        assertRejects(#""\u12g4""#, "invalid hex digit")
        assertRejects("\"a\nb\"", "unescaped control character")
        assertRejects("\"abc", "unterminated string")
    }

    func testInvalidUTF8IsRejected() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                               [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]] {
            XCTAssertThrowsError(try JSONParser.parse(bytes), "\(bytes)") { error in
                XCTAssertTrue("\(error)".contains("UTF-8"), "\(error)")
            }
        }
    }

    func testStructureErrorsNameTheByteOffset() {
        assertRejects("[1, 2,]", "invalid JSON at byte 6")
        assertRejects("{\"a\" 1}", "at byte 5: expected ':'")
        assertRejects("{\"a\":1,}", "expected a string key")
        assertRejects("{\"a\":1 \"b\":2}", "',' or '}'")
        assertRejects("[1 2]", "',' or ']'")
        assertRejects("{\"a\":1,\"a\":2}", "at byte 7: duplicate key 'a'")
        assertRejects("{} x", "at byte 3: unexpected content")
        assertRejects("", "found end of input")
        assertRejects("tru", "invalid literal")
        assertRejects("nul", "invalid literal")
        assertRejects("// c\n1", "expected a value")
        assertRejects("\u{FEFF}1", "expected a value")
    }

    func testDepthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        XCTAssertNoThrow(try parse(ok))
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        assertRejects(deep, "nesting deeper than 64")
        // Far deeper than any stack could take recursively: still a clean error.
        assertRejects(String(repeating: "[", count: 1_000_000), "nesting deeper")
        assertRejects(String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 100), "nesting deeper")
    }
}
