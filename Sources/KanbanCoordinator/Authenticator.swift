import KanbanModel
import KanbanStore

/// Turns the `auth` field into a principal. Tokens are compared by hash or in constant time and
/// never logged.
struct Authenticator {
    let adminToken: String
    let store: BoardStore

    func principal(for auth: String?) -> Principal? {
        guard let auth, !auth.isEmpty else { return nil }
        if Secrets.constantTimeEquals(auth, adminToken) { return .admin }
        guard let lane = try? store.laneName(forTokenHash: Secrets.hash(auth)) else { return nil }
        return .lane(lane)
    }
}
