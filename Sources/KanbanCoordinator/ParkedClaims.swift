import KanbanProtocol

/// Blocking claims waiting for work, first come first served: a value-type state machine. It decides
/// which claim is offered work next, which are answered "no task" at their deadline, and which lanes
/// wait for the board's write lock; the loop does the claiming and the answering (I/O).
///
/// Offering work goes one claim at a time: `offer(lanes:boardWritable:)` opens an `Offer`,
/// `next(_:)` says which claim to try, and `settle(_:_:)` is told how it went. A lane stops being
/// offered once one of its claims found nothing (the claims behind it would find nothing too), and a
/// lane whose claim met a locked board is offered again by `retry(boardWritable:)`.
struct ParkedClaims {
    struct Entry {
        /// The ROUTER envelope, kept so the answer can be sent later without holding up anybody else.
        var envelope: [[UInt8]]
        var request: ClaimRequest
        var deadlineMs: Int64
    }

    /// What came of offering work to one parked claim.
    enum OfferResult: Equatable {
        /// It was answered (a task, or an error): it leaves the queue.
        case answered
        /// Nothing for it now (no ready task, lane full): it keeps waiting, and so does its lane.
        case nothing
        /// The board's write lock was taken: it keeps waiting, and its lane is offered again later.
        case boardLocked
    }

    /// One pass of offering work over the queue, oldest first. Entries are compacted in place as the
    /// pass goes (answered ones dropped), so a pass costs no allocation beyond the exhausted-lane set.
    struct Offer {
        fileprivate var lanes: Set<String>
        fileprivate var exhausted: Set<String> = []
        /// The entry under offer (or the next to look at), and where the kept entries end.
        fileprivate var read = 0
        fileprivate var write = 0
        fileprivate var pending = false
    }

    private(set) var entries: [Entry] = []
    /// Lanes whose claims could not be offered work because the board was locked.
    private(set) var lanesToRetry: Set<String> = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    mutating func park(_ entry: Entry) { entries.append(entry) }

    /// The earliest deadline, for the loop's next wake-up.
    var nextDeadline: Int64? { entries.lazy.map(\.deadlineMs).min() }

    /// How many claims each lane has parked (`lane.list`).
    func countByLane() -> [String: Int] {
        var counts: [String: Int] = [:]
        for entry in entries { counts[entry.request.lane, default: 0] += 1 }
        return counts
    }

    /// Removes and returns the entries whose wait is over: each is answered "no task".
    mutating func takeExpired(nowMs: Int64) -> [Entry] {
        guard entries.contains(where: { $0.deadlineMs <= nowMs }) else { return [] }
        let expired = entries.filter { $0.deadlineMs <= nowMs }
        entries.removeAll { $0.deadlineMs <= nowMs }
        return expired
    }

    /// Work may have come for `lanes` (their events were published). Nil when nothing is to be offered:
    /// no claim is parked, or the board is locked (the lanes are then kept for `retry`). `boardWritable`
    /// is asked only when there is something to offer (a clock read saved on most turns).
    mutating func offer(lanes: Set<String>, boardWritable: @autoclosure () -> Bool) -> Offer? {
        guard !entries.isEmpty, !lanes.isEmpty else { return nil }
        guard boardWritable() else {
            lanesToRetry.formUnion(lanes)
            return nil
        }
        return Offer(lanes: lanes)
    }

    /// Offers work again to the lanes that met a locked board, once it may be written.
    mutating func retry(boardWritable: @autoclosure () -> Bool) -> Offer? {
        guard !lanesToRetry.isEmpty, boardWritable() else { return nil }
        let lanes = lanesToRetry
        lanesToRetry = []
        return offer(lanes: lanes, boardWritable: true)
    }

    /// The next claim to offer work to, or nil when the pass is over. A pass is always run until this
    /// returns nil: only then are the answered claims gone from `entries` (they are compacted away).
    mutating func next(_ offer: inout Offer) -> Entry? {
        precondition(!offer.pending, "settle the claim under offer first")
        while offer.read < entries.count {
            let lane = entries[offer.read].request.lane
            if offer.lanes.contains(lane), !offer.exhausted.contains(lane) {
                offer.pending = true
                return entries[offer.read]
            }
            keep(&offer)
        }
        entries.removeSubrange(offer.write..<offer.read)
        offer.read = offer.write
        return nil
    }

    /// How offering work to the claim `next` returned went.
    mutating func settle(_ offer: inout Offer, _ result: OfferResult) {
        precondition(offer.pending, "no claim is under offer")
        offer.pending = false
        let lane = entries[offer.read].request.lane
        switch result {
        case .answered:
            offer.read += 1  // dropped: not copied to the kept part
        case .nothing:
            offer.exhausted.insert(lane)
            keep(&offer)
        case .boardLocked:
            offer.exhausted.insert(lane)
            lanesToRetry.insert(lane)
            keep(&offer)
        }
    }

    private mutating func keep(_ offer: inout Offer) {
        if offer.write != offer.read { entries.swapAt(offer.write, offer.read) }
        offer.write += 1
        offer.read += 1
    }
}
