import KanbanModel

/// Protocol version spoken on the wire.
public let protocolVersion = 1

/// Encodes replies as the single JSON frames the wire carries: the envelope here, the records in
/// it by `WireFormat`'s shapes. The replies every task gets (claim, complete with and without
/// `claim_next`, block, release) are written straight to bytes, never as a `JSONValue` tree: the
/// tree, its dictionaries and the key sorts were about 150,000 instructions per task
/// (`kanban-bench --instructions`, 2026-12-02).
public enum Reply {
    /// `{"ok": true, "result": …}`
    public static func ok(_ result: JSONValue) -> [UInt8] {
        ok { w in w.write(result) }
    }

    /// `{"ok":true,"result":{"task":…}}`
    public static func okTask(_ t: TaskRecord) -> [UInt8] {
        ok { w in w.beginObject(); w.key("task"); WireFormat.writeTask(t, &w); w.endObject() }
    }

    /// `{"ok":true,"result":{"claim":…,"task":…}}`
    public static func okClaim(_ g: ClaimGrant) -> [UInt8] {
        ok { w in WireFormat.writeClaim(g, &w) }
    }

    /// `{"ok":true,"result":{"next":…,"task":…}}`: a completion with `claim_next`.
    public static func okCompleted(_ t: TaskRecord, next: ClaimGrant?) -> [UInt8] {
        ok { w in WireFormat.writeCompleted(t, next: next, &w) }
    }

    /// `{"ok":true,"result":…}` with the result written by `result` (keys in byte order: "ok" < "result").
    private static func ok(_ result: (inout JSONWriter) -> Void) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject(); w.key("ok"); w.bool(true); w.key("result")
        result(&w)
        w.endObject()
        return w.out
    }

    /// `{"ok": false, "error": {"code": …, "message": …}}`
    public static func error(_ error: WireError) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("error")
        w.beginObject(); w.key("code"); w.string(error.code.rawValue); w.key("message"); w.string(error.message); w.endObject()
        w.key("ok"); w.bool(false)
        w.endObject()
        return w.out
    }

    /// Compact JSON with sorted keys, so equal values encode to equal bytes (`JSONCodec.encode`).
    public static func encode(_ value: JSONValue) -> [UInt8] { JSONCodec.encode(value) }

    /// Parses a reply frame (used by clients): the result on success, the wire error otherwise.
    public static func parse(_ frame: [UInt8]) -> Result<JSONValue, WireError> {
        guard let value = JSONCodec.decode(frame), case .object = value else {
            return .failure(WireError(.internal, "reply is not a JSON object"))
        }
        if value["ok"]?.boolValue == true { return .success(value["result"] ?? .null) }
        let code = value["error"]?["code"]?.stringValue.flatMap(ErrorCode.init(rawValue:)) ?? .internal
        let message = value["error"]?["message"]?.stringValue ?? "unknown error"
        return .failure(WireError(code, message))
    }
}
