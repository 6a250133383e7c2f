import Hummingbird
import KanbanModel
import KanbanProtocol

/// The admin's actions: create, reclaim, unblock, assign. Each is one wire request with the admin's
/// token, so the coordinator's own rules (and its `request_id` replay) apply; nothing is decided here.
extension WebRoutes {
    static func addActionRoutes(to router: Router<BasicRequestContext>, _ services: WebServices) {
        router.post("/api/tasks") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            try caller.requireAdmin()
            let body = try await jsonBody(request)
            guard let title = body["title"]?.stringValue, !title.isEmpty else { throw WebError.badRequest("'title' is required") }
            var spec = TaskSpec(title: title, body: try optionalString(body, "body"), assignee: try optionalString(body, "assignee"))
            if let p = body["priority"], p != .null {
                guard let n = p.intValue, let priority = Int(exactly: n) else { throw WebError.badRequest("'priority' must be an integer") }
                spec.priority = priority
            }
            if let parents = body["parents"], parents != .null {
                guard let list = parents.arrayValue?.compactMap(\.stringValue), list.count == parents.arrayValue?.count else {
                    throw WebError.badRequest("'parents' must be a list of task ids")
                }
                spec.parents = list
            }
            return jsonResponse(["task": try await services.call(.taskCreate(spec), as: caller)["task"] ?? .null], status: .created)
        }
        router.post("/api/tasks/{id}/reclaim") { request, context -> Response in
            let (caller, id, body) = try await action(request, context, services)
            let reason = try optionalString(body, "reason")
            return jsonResponse(["task": try await services.call(.taskReclaim(taskID: id, reason: reason), as: caller)["task"] ?? .null])
        }
        router.post("/api/tasks/{id}/unblock") { request, context -> Response in
            let (caller, id, _) = try await action(request, context, services)
            return jsonResponse(["task": try await services.call(.taskUnblock(taskID: id), as: caller)["task"] ?? .null])
        }
        router.post("/api/tasks/{id}/assign") { request, context -> Response in
            let (caller, id, body) = try await action(request, context, services)
            guard body.keys.contains("assignee") else { throw WebError.badRequest("'assignee' (a lane name, or null) is required") }
            let assignee = try optionalString(body, "assignee")
            return jsonResponse(["task": try await services.call(.taskAssign(taskID: id, assignee: assignee), as: caller)["task"] ?? .null])
        }
    }

    /// An admin action on `/api/tasks/{id}/…`: its caller, task id and body.
    private static func action(_ request: Request, _ context: BasicRequestContext, _ services: WebServices) async throws
        -> (Caller, String, [String: JSONValue]) {
        let caller = try Caller.of(request, sessions: services.sessions)
        try caller.requireAdmin()
        return (caller, try context.parameters.require("id"), try await jsonBody(request))
    }

    static func optionalString(_ body: [String: JSONValue], _ key: String) throws -> String? {
        switch body[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw WebError.badRequest("'\(key)' must be a string")
        }
    }
}
