/// Where Hermes Agent keeps a board's companions, derived from the board file's path the way Hermes
/// derives both from its root (`hermes_cli/kanban_db.py`): the default board is `<root>/kanban.db`
/// with worker logs in `<root>/kanban/logs/`; a named board is `<root>/kanban/boards/<slug>/kanban.db`
/// with logs in `<root>/kanban/boards/<slug>/logs/`. Spawned workers' output written there is what
/// `hermes kanban log <task>` and the dashboard's worker-log panel show.
public enum HermesLayout {
    public static func workerLogsDir(boardPath: String) -> String {
        let parts = boardPath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let dir = parts.dropLast().joined(separator: "/")
        let parent = parts.dropLast()
        if parent.count >= 3, parent[parent.count - 3] == "kanban", parent[parent.count - 2] == "boards" {
            return dir + "/logs"
        }
        return (dir.isEmpty ? "." : dir) + "/kanban/logs"
    }
}
