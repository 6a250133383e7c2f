import Foundation
import Hummingbird
import KanbanModel

/// Who sent an API request: a browser session (cookie) or a script (`Authorization: Bearer`).
struct Caller: Sendable {
    /// The token the coordinator sees for this request (the session's, or the bearer's).
    let token: String
    /// The session, when the request came with the cookie.
    let session: Session?

    static let cookieName = "kb_session"
    static let csrfHeader = HeaderName("X-CSRF-Token")!

    /// The caller of `request`, or 401/403. A state change (POST, PUT, PATCH, DELETE) with a cookie
    /// needs the session's CSRF token in `X-CSRF-Token`: SameSite=Strict already keeps other sites'
    /// requests from carrying the cookie, and the header is the second lock (older browsers, and
    /// same-site pages on other ports). A bearer request carries no ambient credential, so needs none.
    static func of(_ request: Request, sessions: Sessions) throws -> Caller {
        if let auth = request.headers[.authorization] {
            guard auth.lowercased().hasPrefix("bearer "), case let token = String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces),
                  !token.isEmpty else { throw WebError.unauthorized }
            return Caller(token: token, session: nil)
        }
        guard let id = request.cookies[cookieName]?.value, let session = sessions.find(id) else { throw WebError.unauthorized }
        if [.post, .put, .patch, .delete].contains(request.method) {
            guard let sent = request.headers[csrfHeader], Secrets.constantTimeEquals(sent, session.csrf) else { throw WebError.csrf }
        }
        return Caller(token: session.token, session: session)
    }

    /// Admin actions: a lane session is refused here (its token would be refused by the wire too); a
    /// bearer token is left to the wire's access policy, the one place that decides.
    func requireAdmin() throws {
        if let session, session.role != .admin { throw WebError.adminOnly }
    }
}
