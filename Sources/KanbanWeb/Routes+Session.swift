import Hummingbird
import KanbanModel
import KanbanProtocol

/// `/api/login`, `/api/logout`, `/api/session`.
extension WebRoutes {
    static func addSessionRoutes(to router: Router<BasicRequestContext>, _ services: WebServices) {
        router.post("/api/login") { request, _ -> Response in
            // JSON only: a cross-site HTML form cannot send it, so nobody logs a browser into their account.
            guard request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true else {
                throw WebError(.unsupportedMediaType, "bad_request", "send {\"token\": …} as application/json")
            }
            let body = try await jsonBody(request)
            guard let token = body["token"]?.stringValue, !token.isEmpty, token.utf8.count <= 256 else {
                throw WebError.badRequest("'token' (the admin token or a lane token) is required")
            }
            // `ping` answers anyone and says who the token is: a wrong token is `principal: null`.
            let principal = try await services.calls.call(.ping, auth: token)["principal"]
            let role: Session.Role
            switch principal?["role"]?.stringValue {
            case "admin": role = .admin
            case "lane": role = .lane
            default: throw WebError(.unauthorized, "unauthorized", "that token is not the admin's or a lane's (a worker's token cannot log in)")
            }
            let session = services.sessions.open(token: token, role: role, lane: principal?["lane"]?.stringValue)
            let secure = services.settings.cookieSecure || request.uri.scheme == .https
            let cookie = "\(Caller.cookieName)=\(session.id); HttpOnly; SameSite=Strict; Path=/" + (secure ? "; Secure" : "")
            return jsonResponse(describe(session), headers: [.setCookie: cookie])
        }
        router.post("/api/logout") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            if let session = caller.session { services.sessions.close(session.id) }
            return jsonResponse(["ok": true], headers: [.setCookie: "\(Caller.cookieName)=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/"])
        }
        router.get("/api/session") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            guard let session = caller.session else { throw WebError(.unauthorized, "unauthorized", "no session (a bearer token has none)") }
            return jsonResponse(describe(session))
        }
    }

    static func describe(_ s: Session) -> JSONValue {
        ["role": .string(s.role.rawValue), "lane": s.lane.map { .string($0) } ?? .null, "csrf": .string(s.csrf)]
    }
}
