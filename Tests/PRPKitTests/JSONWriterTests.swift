import XCTest
@testable import PRPKit
@testable import PRPKitGraph
@testable import PRPKitKernels

/// The deterministic JSON writer: exact text, and write → parse round trips.
final class JSONWriterTests: XCTestCase {
    func testCompactDeterministicText() {
        let value: JSONValue = .object([
            ("b", .array([.number(1), .number(-2), .number(0.5), .null, .bool(true)])),
            ("a", .object([])), ("c", .string("x\"y\\z\n\u{01}é")),
        ])
        XCTAssertEqual(JSONWriter.write(value), #"{"b":[1,-2,0.5,null,true],"a":{},"c":"x\"y\\z\n\u0001é"}"#)
    }

    func testIntegersHaveNoFraction() {
        XCTAssertEqual(JSONWriter.number(3), "3")
        XCTAssertEqual(JSONWriter.number(-7), "-7")
        XCTAssertEqual(JSONWriter.number(0), "0")
        XCTAssertEqual(JSONWriter.number(-0.0), "-0.0")
        XCTAssertEqual(JSONWriter.number(9007199254740991), "9007199254740991")
        XCTAssertEqual(JSONWriter.number(1e20), "1e+20")
        XCTAssertEqual(JSONWriter.number(.nan), "null")
        XCTAssertEqual(JSONWriter.number(-.infinity), "null")
    }

    func testFloatsRoundTripExactly() throws {
        var generator = SystemRandomNumberGenerator()
        var samples: [Double] = [0.1, 1e-5, Double(Float(1e-5)), 1e-9, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                 -.leastNormalMagnitude, 1.0 / 3.0, 123456.789]
        for _ in 0..<2000 { samples.append(Double(bitPattern: generator.next())) }
        for _ in 0..<2000 { samples.append(Double(Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())))) }
        for d in samples where d.isFinite {
            let text = JSONWriter.write(.array([.number(d)]))
            guard case .array(let items) = try JSONParser.parse(text), case .number(let back) = items[0] else {
                return XCTFail(text)
            }
            XCTAssertEqual(back.bitPattern, d.bitPattern, text)
        }
    }

    func testStringsRoundTrip() throws {
        var all = ""
        for v in 0..<0x300 { all.unicodeScalars.append(Unicode.Scalar(v)!) }
        for s in [all, "😀 中文", "", "\u{7F}\u{2028}"] {
            XCTAssertEqual(try JSONParser.parse(JSONWriter.write(.string(s))), .string(s))
        }
    }

    func testNestedRoundTrip() throws {
        let value: JSONValue = .object([("k", .array([.object([("x", .number(-1.25e-7))]), .string("s"), .bool(false)]))])
        let text = JSONWriter.write(value)
        XCTAssertEqual(try JSONParser.parse(text), value)
        XCTAssertEqual(JSONWriter.write(try JSONParser.parse(text)), text)
    }
}
