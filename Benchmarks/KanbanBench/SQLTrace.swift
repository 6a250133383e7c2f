/// The trace Benchmarks/sqltrace/sqltrace.c writes: one SQLite call per line, in the order the
/// calls returned (its header comment has the format). Parsing is pure so it can be unit tested.
public enum SQLTrace {
    /// A value bound to a statement parameter.
    public enum Value: Equatable, Sendable {
        case null
        case int(Int64)
        case double(Double)
        case text([UInt8])
        case blob([UInt8])
    }

    /// One recorded call. `db` and `stmt` are the pointers the coordinator had (a pointer may come
    /// back for a new statement after a finalize).
    public enum Event: Equatable, Sendable {
        case open(db: UInt64, flags: Int32, filename: String)
        case prepare(db: UInt64, stmt: UInt64, flags: UInt32, sql: [UInt8])
        case bind(stmt: UInt64, index: Int32, value: Value)
        case step(stmt: UInt64, rc: Int32)
        case reset(stmt: UInt64)
        case clearBindings(stmt: UInt64)
        case finalize(stmt: UInt64)
    }

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let line: Int
        public let reason: String
        public var description: String { "SQL trace line \(line): \(reason)" }
    }

    /// All events of a trace file's bytes. A last line without its newline (a process killed while
    /// writing) is ignored; any other malformed line is an error.
    public static func parse(_ bytes: [UInt8]) throws -> [Event] {
        var events: [Event] = []
        var start = 0
        var lineNumber = 0
        while let end = bytes[start...].firstIndex(of: 0x0A) {
            lineNumber += 1
            events.append(try parseLine(bytes[start..<end], line: lineNumber))
            start = end + 1
        }
        return events
    }

    /// One line, without its newline.
    public static func parseLine(_ line: ArraySlice<UInt8>, line number: Int) throws -> Event {
        func fail(_ reason: String) -> ParseError { ParseError(line: number, reason: reason) }
        // Fields are separated by one space; the last field of O, P and B t/b lines is the rest of
        // the line (SQL and text hold spaces, never a newline).
        func fields(_ count: Int) throws -> [ArraySlice<UInt8>] {
            var parts: [ArraySlice<UInt8>] = []
            var rest = line
            while parts.count < count - 1, let space = rest.firstIndex(of: 0x20) {
                parts.append(rest[rest.startIndex..<space])
                rest = rest[(space + 1)...]
            }
            parts.append(rest)
            guard parts.count == count else { throw fail("expected \(count) fields") }
            return parts
        }
        func pointer(_ s: ArraySlice<UInt8>) throws -> UInt64 {
            let text = String(decoding: s, as: UTF8.self)
            let digits = text.hasPrefix("0x") ? text.dropFirst(2) : Substring(text)
            guard text == "(nil)" || !digits.isEmpty, let value = text == "(nil)" ? 0 : UInt64(digits, radix: 16) else {
                throw fail("bad pointer \(text)")
            }
            return value
        }
        func integer<T: FixedWidthInteger>(_ s: ArraySlice<UInt8>, _: T.Type) throws -> T {
            guard let v = T(String(decoding: s, as: UTF8.self)) else { throw fail("bad number \(String(decoding: s, as: UTF8.self))") }
            return v
        }
        guard let kind = line.first else { throw fail("empty line") }
        switch kind {
        case UInt8(ascii: "O"):
            let f = try fields(4)
            return .open(db: try pointer(f[1]), flags: try integer(f[2], Int32.self),
                         filename: String(decoding: try unescape(f[3], line: number), as: UTF8.self))
        case UInt8(ascii: "P"):
            let f = try fields(5)
            return .prepare(db: try pointer(f[1]), stmt: try pointer(f[2]), flags: try integer(f[3], UInt32.self),
                            sql: try unescape(f[4], line: number))
        case UInt8(ascii: "B"):
            let f = try fields(4)
            let stmt = try pointer(f[1]), index = try integer(f[2], Int32.self)
            let typeAndValue = f[3]
            guard let type = typeAndValue.first else { throw fail("bind without a type") }
            let value = typeAndValue.count > 2 ? typeAndValue.dropFirst(2) : []
            switch type {
            case UInt8(ascii: "n"): return .bind(stmt: stmt, index: index, value: .null)
            case UInt8(ascii: "i"): return .bind(stmt: stmt, index: index, value: .int(try integer(value, Int64.self)))
            case UInt8(ascii: "f"):
                guard let d = Double(String(decoding: value, as: UTF8.self)) else { throw fail("bad double") }
                return .bind(stmt: stmt, index: index, value: .double(d))
            case UInt8(ascii: "t"): return .bind(stmt: stmt, index: index, value: .text(try unescape(value, line: number)))
            case UInt8(ascii: "b"): return .bind(stmt: stmt, index: index, value: .blob(try unhex(value, line: number)))
            default: throw fail("unknown bind type")
            }
        case UInt8(ascii: "S"):
            let f = try fields(3)
            return .step(stmt: try pointer(f[1]), rc: try integer(f[2], Int32.self))
        case UInt8(ascii: "R"): return .reset(stmt: try pointer(try fields(2)[1]))
        case UInt8(ascii: "C"): return .clearBindings(stmt: try pointer(try fields(2)[1]))
        case UInt8(ascii: "F"): return .finalize(stmt: try pointer(try fields(2)[1]))
        default: throw fail("unknown record \(Character(UnicodeScalar(kind)))")
        }
    }

    /// Undoes the shim's escaping: `\\` is a backslash, `\xHH` a byte.
    static func unescape(_ s: ArraySlice<UInt8>, line: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
            guard i + 1 < s.endIndex else { throw ParseError(line: line, reason: "dangling backslash") }
            if s[i + 1] == UInt8(ascii: "\\") { out.append(c); i += 2; continue }
            guard s[i + 1] == UInt8(ascii: "x"), i + 3 < s.endIndex,
                  let byte = UInt8(String(decoding: s[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else {
                throw ParseError(line: line, reason: "bad escape")
            }
            out.append(byte)
            i += 4
        }
        return out
    }

    static func unhex(_ s: ArraySlice<UInt8>, line: Int) throws -> [UInt8] {
        guard s.count % 2 == 0 else { throw ParseError(line: line, reason: "odd hex length") }
        var out: [UInt8] = []
        out.reserveCapacity(s.count / 2)
        var i = s.startIndex
        while i < s.endIndex {
            guard let byte = UInt8(String(decoding: s[i...(i + 1)], as: UTF8.self), radix: 16) else {
                throw ParseError(line: line, reason: "bad hex")
            }
            out.append(byte)
            i += 2
        }
        return out
    }
}
