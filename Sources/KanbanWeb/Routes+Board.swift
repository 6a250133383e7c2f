import Hummingbird
import KanbanModel
import KanbanProtocol

/// The reads: lanes, tasks, a task, events, stats.
extension WebRoutes {
    static func addBoardRoutes(to router: Router<BasicRequestContext>, _ services: WebServices) {
        router.get("/api/lanes") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            async let lanes = services.call(.laneList, as: caller)
            async let ping = services.call(.ping, as: caller)
            let now = try await ping["now_ms"]?.intValue ?? 0
            return jsonResponse(LaneBoard.render(laneList: try await lanes, nowMs: now, hermesCaps: services.settings.hermesCaps))
        }
        router.get("/api/tasks") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            let query = request.uri.queryParameters
            let status = try query.get("status").map { s -> TaskStatus in
                guard let status = TaskStatus(rawValue: s) else { throw WebError.badRequest("unknown status '\(s)'") }
                return status
            }
            let lane = query.get("lane").flatMap { $0.isEmpty ? nil : $0 }
            let limit = try intParameter(query.get("limit"), "limit", default: 50, range: 1...500)
            let offset = try intParameter(query.get("offset"), "offset", default: 0, range: 0...10_000)
            let q = query.get("q")?.lowercased() ?? ""
            // The wire lists up to 10,000 tasks; the search and paging happen here.
            let all = try await services.call(.taskList(status: status, assignee: lane, limit: 10_000), as: caller)["tasks"]?.arrayValue ?? []
            let matching = q.isEmpty ? all : all.filter { task in
                (task["title"]?.stringValue?.lowercased().contains(q) ?? false) || (task["id"]?.stringValue?.lowercased().contains(q) ?? false)
            }
            let page = Array(matching.dropFirst(offset).prefix(limit))
            return jsonResponse(["tasks": .array(page), "total": .int(Int64(matching.count))])
        }
        router.get("/api/tasks/{id}") { request, context -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            let id = try context.parameters.require("id")
            let task = try await services.call(.taskGet(taskID: id), as: caller)["task"] ?? .null
            // The log lives beside the coordinator; `task.log` brings its tail over the wire. A task
            // that never ran under a spawned lane has none.
            let tail: JSONValue
            do {
                tail = try await services.call(.taskLog(taskID: id, maxBytes: WebLimits.logTailBytes), as: caller)["tail"] ?? .null
            } catch let error as WebError where error.status == .notFound || error.code == "unknown_op" {
                tail = .null
            }
            return jsonResponse(["task": task, "log_tail": tail])
        }
        router.get("/api/events") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            let query = request.uri.queryParameters
            let since = try intParameter(query.get("since"), "since", default: 0, range: 0...Int.max)
            let limit = try intParameter(query.get("limit"), "limit", default: 100, range: 1...1000)
            let lane = query.get("lane").flatMap { $0.isEmpty ? nil : $0 }
            return jsonResponse(try await services.call(.events(since: Int64(since), limit: limit, lane: lane), as: caller))
        }
        router.get("/api/stats") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            let window = try intParameter(request.uri.queryParameters.get("window"), "window", default: 300, range: 1...86_400 * 7)
            return jsonResponse(try await services.call(.stats(windowSeconds: window), as: caller))
        }
    }

    static func intParameter(_ text: String?, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text, !text.isEmpty else { return value }
        guard let n = Int(text), range.contains(n) else { throw WebError.badRequest("'\(name)' must be an integer in \(range.lowerBound)...\(range.upperBound)") }
        return n
    }
}
