import Hummingbird
import KanbanClient
import KanbanModel
import KanbanProtocol

/// Every refusal the HTTP face answers: a status and `{"error": {"code", "message"}}`. Wire refusals
/// keep their wire code; HTTP-only ones (`csrf`, `too_large`, `coordinator_unreachable`) are named here.
public struct WebError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status; self.code = code; self.message = message
    }

    static let unauthorized = WebError(.unauthorized, "unauthorized", "log in (POST /api/login) or send Authorization: Bearer <token>")
    static let csrf = WebError(.forbidden, "csrf", "a state change with a session cookie needs the X-CSRF-Token header from login")
    static let adminOnly = WebError(.forbidden, "forbidden", "only the admin may do this; a lane token is read-only here")
    static func badRequest(_ message: String) -> WebError { WebError(.badRequest, "bad_request", message) }
    static func notFound(_ message: String) -> WebError { WebError(.notFound, "not_found", message) }
    static let tooLarge = WebError(.contentTooLarge, "too_large", "request bodies are at most \(WebLimits.maxBodyBytes) bytes")
    static let busy = WebError(.serviceUnavailable, "busy", "too many requests waiting for the coordinator; retry shortly")

    /// A wire refusal as HTTP: the wire's code, with the status a browser or script expects.
    static func wire(_ error: WireError) -> WebError {
        let status: HTTPResponse.Status
        switch error.code {
        case .unauthorized: status = .unauthorized
        case .forbidden: status = .forbidden
        case .notFound: status = .notFound
        case .badRequest, .unknownOp: status = .badRequest
        case .tooLarge: status = .contentTooLarge
        case .busy: status = .serviceUnavailable
        case .conflict, .notAssigned, .notReady, .laneFull, .notClaimOwner, .staleClaim, .requestIDReused: status = .conflict
        default: status = .badGateway
        }
        return WebError(status, error.code.rawValue, error.message)
    }

    /// A client-side failure to reach the coordinator.
    static func unreachable(_ error: Error) -> WebError {
        WebError(.badGateway, "coordinator_unreachable", "\(error)")
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = JSONCodec.encode(["error": ["code": .string(code), "message": .string(message)]])
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// The bounds that keep one client from taking the server's memory or threads.
public enum WebLimits {
    /// Largest request body read (login, task create, actions); bigger ones get 413.
    public static let maxBodyBytes = 64 * 1024
    /// Live sessions kept; past it the least recently used is dropped.
    public static let maxSessions = 1000
    /// A session idle this long is gone.
    public static let sessionIdleMs: Int64 = 12 * 3600 * 1000
    /// Events queued for one SSE client before it is dropped (it resumes with Last-Event-ID).
    public static let sseQueue = 1000
    /// Largest log tail shown for a task.
    public static let logTailBytes = 64 * 1024
}
