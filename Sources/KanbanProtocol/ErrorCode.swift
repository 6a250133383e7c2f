/// Stable wire error codes (contract v1). Clients switch on these; never rename one.
public enum ErrorCode: String, CaseIterable, Sendable {
    case badRequest = "bad_request"
    case unknownOp = "unknown_op"
    case unauthorized
    case forbidden
    case notFound = "not_found"
    case conflict
    case notAssigned = "not_assigned"
    case notReady = "not_ready"
    case laneFull = "lane_full"
    case notClaimOwner = "not_claim_owner"
    case staleClaim = "stale_claim"
    case tooLarge = "too_large"
    case `internal`
    /// Another program held the board's write lock for as long as the request could wait. Nothing
    /// changed; retry the same request (same `request_id`) after a short pause.
    case busy
    /// The `request_id` was used, within the retry window, for a different request (another op or
    /// another task). Nothing ran; the request needs an id of its own.
    case requestIDReused = "request_id_reused"
}

/// An error that goes back to the client as `{"ok": false, "error": {code, message}}`.
/// The message is for humans and never contains a secret.
public struct WireError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: ErrorCode
    public let message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
