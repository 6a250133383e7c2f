import KanbanModel

/// Strict, typed reads of a request object's fields, from where the scan found them in the frame
/// (`ScannedRequest`). Each read consumes the key, so whatever is left at the end is an unknown field
/// and the request is refused (typos never pass silently).
struct Fields {
    private let frame: [UInt8]
    /// Not yet read, in frame order.
    private var left: [ScannedRequest.Field]

    init(_ scanned: ScannedRequest, _ fields: [ScannedRequest.Field]) {
        self.frame = scanned.frame
        self.left = fields
    }

    /// The value of `key` (null counts as absent), parsed from its bytes. A key given more than once
    /// keeps its first value, as JSON readers here always did; the others must still be valid JSON.
    private mutating func take(_ key: String) throws(WireError) -> JSONValue? {
        var found = JSONValue.null, taken = false
        var k = 0
        while k < left.count {
            guard isKey(left[k], key) else { k += 1; continue }
            guard let v = Self.value(frame[left[k].value]) else { throw WireError(.badRequest, "request is not valid JSON") }
            if !taken { found = v; taken = true }
            left.remove(at: k)
        }
        if found.isNull { return nil }  // not `isNull ? nil : found`: that nil would be `.null`
        return found
    }

    private func isKey(_ field: ScannedRequest.Field, _ key: String) -> Bool {
        guard field.keyEscaped else { return field.key.count == key.utf8.count && frame[field.key].elementsEqual(key.utf8) }
        return Self.keyText(frame, field) == key
    }

    /// One value by the bridge's JSON rules (`JSONCodec`). (Its first byte is never a byte order
    /// mark: the scan puts a value's start after any whitespace, and a mark there is no JSON.)
    private static func value(_ bytes: ArraySlice<UInt8>) -> JSONValue? {
        guard let first = bytes.first, first != 0xEF else { return nil }
        return JSONCodec.decode(bytes)
    }

    /// A key with escapes, decoded (nil if they are not valid).
    private static func keyText(_ frame: [UInt8], _ field: ScannedRequest.Field) -> String? {
        JSONCodec.decode(frame[(field.key.lowerBound - 1)..<(field.key.upperBound + 1)])?.stringValue
    }

    mutating func requiredString(_ key: String, maxLength: Int) throws(WireError) -> String {
        guard let s = try optionalString(key, maxLength: maxLength) else {
            throw WireError(.badRequest, "missing required field '\(key)'")
        }
        return s
    }

    mutating func optionalString(_ key: String, maxLength: Int) throws(WireError) -> String? {
        guard let v = try take(key) else { return nil }
        guard case .string(let s) = v else { throw WireError(.badRequest, "field '\(key)' must be a string") }
        guard s.utf8.count <= maxLength else {
            throw WireError(.badRequest, "field '\(key)' is longer than \(maxLength) bytes")
        }
        return s
    }

    mutating func optionalInt(_ key: String, range: ClosedRange<Int>) throws(WireError) -> Int? {
        guard let v = try take(key) else { return nil }
        guard case .int(let i) = v else { throw WireError(.badRequest, "field '\(key)' must be an integer") }
        guard i >= Int64(range.lowerBound), i <= Int64(range.upperBound) else {
            throw WireError(.badRequest, "field '\(key)' must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return Int(i)
    }

    mutating func optionalBool(_ key: String) throws(WireError) -> Bool? {
        guard let v = try take(key) else { return nil }
        guard case .bool(let b) = v else { throw WireError(.badRequest, "field '\(key)' must be true or false") }
        return b
    }

    /// A CURVE public key in Z85 text (40 characters); with `allowEmpty`, "" (meaning: remove it).
    mutating func optionalCurveKey(_ key: String, allowEmpty: Bool) throws(WireError) -> String? {
        guard let k = try optionalString(key, maxLength: 64) else { return nil }
        if allowEmpty && k.isEmpty { return k }
        guard Names.isCurveKey(k) else {
            throw WireError(.badRequest, "field '\(key)' must be a CURVE public key: 40 Z85 characters (kanban-bridge keys generate)")
        }
        return k
    }

    mutating func optionalEnum<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(WireError) -> E?
    where E.RawValue == String {
        guard let raw = try optionalString(key, maxLength: 64) else { return nil }
        guard let e = E(rawValue: raw) else {
            let allowed = E.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw WireError(.badRequest, "field '\(key)' must be one of \(allowed)")
        }
        return e
    }

    /// A Hermes profile name: it becomes a directory (`WorkspaceLayout.profileProblem`).
    mutating func optionalProfile(_ key: String) throws(WireError) -> String? {
        guard let profile = try optionalString(key, maxLength: WorkspaceLayout.maxSegmentBytes) else { return nil }
        if let problem = WorkspaceLayout.profileProblem(profile) { throw WireError(.badRequest, "field '\(key)': \(problem)") }
        return profile
    }

    /// A lane's git repository: absolute, no `.`/`..` components (`WorkspaceLayout.repoProblem`).
    mutating func optionalRepo(_ key: String) throws(WireError) -> String? {
        guard let repo = try optionalString(key, maxLength: 4096) else { return nil }
        if let problem = WorkspaceLayout.repoProblem(repo) { throw WireError(.badRequest, "field '\(key)': \(problem)") }
        return repo
    }

    mutating func optionalStringArray(_ key: String) throws(WireError) -> [String]? {
        guard let v = try take(key) else { return nil }
        guard case .array(let items) = v, items.count <= 256 else {
            throw WireError(.badRequest, "field '\(key)' must be an array of at most 256 strings")
        }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item, s.utf8.count <= 4096 else {
                throw WireError(.badRequest, "field '\(key)' must be an array of strings")
            }
            out.append(s)
        }
        return out
    }

    mutating func optionalObject(_ key: String, maxBytes: Int) throws(WireError) -> JSONValue? {
        guard let v = try take(key) else { return nil }
        guard case .object = v else { throw WireError(.badRequest, "field '\(key)' must be an object") }
        // Metadata is published to every subscriber: its size is capped like any text field's.
        let size = JSONCodec.encode(v).count
        guard size <= maxBytes else {
            throw WireError(.tooLarge, "field '\(key)' is \(size) bytes as compact JSON; the limit is \(maxBytes)")
        }
        return v
    }

    mutating func laneName(_ key: String) throws(WireError) -> String {
        let name = try requiredString(key, maxLength: 64)
        if let problem = Names.laneNameProblem(name) { throw WireError(.badRequest, "field '\(key)': \(problem)") }
        return name
    }

    /// A lane filter; `_` means events of tasks with no assignee.
    mutating func optionalLaneOrNone(_ key: String) throws(WireError) -> String? {
        guard let name = try optionalString(key, maxLength: 64) else { return nil }
        if name == "_" { return name }
        if let problem = Names.laneNameProblem(name) { throw WireError(.badRequest, "field '\(key)': \(problem)") }
        return name
    }

    /// An assignee: canonicalised like Hermes does (trimmed, lowercased), then validated as a lane name.
    mutating func optionalAssignee(_ key: String) throws(WireError) -> String? {
        guard let raw = try optionalString(key, maxLength: 64) else { return nil }
        guard let name = Names.canonicalAssignee(raw) else { return nil }
        if let problem = Names.laneNameProblem(name) { throw WireError(.badRequest, "field '\(key)': \(problem)") }
        return name
    }

    mutating func taskID(_ key: String) throws(WireError) -> String {
        guard let id = try optionalTaskID(key) else { throw WireError(.badRequest, "missing required field '\(key)'") }
        return id
    }

    mutating func optionalTaskID(_ key: String) throws(WireError) -> String? {
        guard let id = try optionalString(key, maxLength: 64) else { return nil }
        guard Names.isValidTaskID(id) else { throw WireError(.badRequest, "field '\(key)' is not a valid task id") }
        return id
    }

    mutating func optionalTaskIDs(_ key: String) throws(WireError) -> [String]? {
        guard let ids = try optionalStringArray(key) else { return nil }
        for id in ids where !Names.isValidTaskID(id) {
            throw WireError(.badRequest, "field '\(key)' holds an invalid task id")
        }
        return ids
    }

    mutating func claimRef() throws(WireError) -> ClaimRef {
        let task = try taskID("task_id")
        let token = try requiredString("claim_token", maxLength: 256)
        return ClaimRef(taskID: task, claimToken: token)
    }

    /// Refuses the request if any field was not consumed by the op's decoder.
    func rejectUnknown(op: String) throws(WireError) {
        guard !left.isEmpty else { return }
        let keys = Set(left.map { f in f.keyEscaped ? Self.keyText(frame, f) ?? "" : String(decoding: frame[f.key], as: UTF8.self) })
        let names = keys.sorted().prefix(5).map(Self.quotedIfName).joined(separator: ", ")
        throw WireError(.badRequest, "unknown field(s) for '\(op)': \(names)")
    }

    /// Echoes what a client sent only when it looks like a name (`[a-z0-9._-]`, up to 32): anything
    /// else could be a secret pasted in the wrong place, and replies and logs never carry secrets.
    static func quotedIfName(_ s: String) -> String {
        let bytes = Array(s.utf8)
        let isName = !bytes.isEmpty && bytes.count <= 32 && bytes.allSatisfy { b in
            (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 46 || b == 95 || b == 45
        }
        return isName ? "'\(s)'" : "(a \(bytes.count)-byte name not shown)"
    }
}
