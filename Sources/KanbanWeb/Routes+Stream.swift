import Hummingbird
import KanbanModel
import KanbanProtocol

/// `GET /api/stream`: Server-Sent Events from the hub's one SUB connection.
extension WebRoutes {
    static let lastEventID = HeaderName("Last-Event-ID")!

    static func addStreamRoute(to router: Router<BasicRequestContext>, _ services: WebServices) {
        router.get("/api/stream") { request, _ -> Response in
            let caller = try Caller.of(request, sessions: services.sessions)
            var resumeFrom: Int64?
            if let text = request.headers[lastEventID] {
                guard let seq = Int64(text.trimmingCharacters(in: .whitespaces)), seq >= 0 else { throw WebError.badRequest("Last-Event-ID must be a seq") }
                resumeFrom = seq
            }
            // Reading the stream is reading the board: check the caller's token with the wire first.
            _ = try await services.call(.events(since: Int64(Int.max), limit: 1, lane: nil), as: caller)
            guard services.streams.take() else {
                throw WebError(.serviceUnavailable, "busy", "too many event streams open (\(services.streams.limit)); retry shortly")
            }
            // Subscribe before replaying, so nothing published meanwhile falls between the two; the
            // seq check below drops what both deliver.
            let subscription = services.hub.subscribe()
            let resume = resumeFrom
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-store",
                                       HeaderName("X-Accel-Buffering")!: "no"]
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                defer {
                    services.hub.unsubscribe(subscription.id)
                    services.streams.give()
                }
                try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
                var last = resume
                if var since = resume {
                    // Catch up from the board, in pages, before anything live.
                    while true {
                        let page = try await services.call(.events(since: since, limit: 500, lane: nil), as: caller)["events"]?.arrayValue ?? []
                        for event in page {
                            guard let seq = event["seq"]?.intValue, seq > since else { continue }
                            try await writer.write(StreamEvent(seq: seq, type: event["type"]?.stringValue ?? "event",
                                                               json: JSONCodec.encodeString(event)).frame)
                            since = seq
                        }
                        if page.count < 500 { break }
                    }
                    last = since
                }
                // Everything queued since the last write goes out as one buffer (one write, one flush).
                var out = ByteBuffer()
                while let batch = await subscription.queue.next() {
                    out.clear()
                    for item in batch {
                        switch item {
                        case .keepalive:
                            out.writeString(": keepalive\n\n")
                        case .event(let e):
                            if let l = last, e.seq <= l { continue }
                            var frame = e.frame
                            out.writeBuffer(&frame)
                            last = e.seq
                        }
                    }
                    if out.readableBytes > 0 { try await writer.write(out) }
                }
                // The stream ended: the server is stopping, or this client fell too far behind. It
                // reconnects with Last-Event-ID and misses nothing.
                try await writer.finish(nil)
            })
        }
    }
}
