import Foundation
import NIOCore
import PostgresNIO
import SwellModel

extension PostgresStore: TaskStorage {
    /// Applies the writes in one transaction (committed when this returns). Runs of inserts
    /// go in one statement each (arrays unnested into rows): a busy queue accepts thousands
    /// of tasks a second.
    public func apply(_ writes: [TaskWrite]) async throws {
        guard !writes.isEmpty else { return }
        // The node's lease renewals lock the same rows: a deadlock between the two is retried.
        try await retryingTransaction { c in
            // Only the order of one task's writes matters: they are applied in rounds (the
            // first write of every task, then the second…), each round a few statements over
            // arrays, so a batch of thousands of writes is a few dozen statements. A purge is
            // a barrier: what comes before it is applied before it.
            var segment: [TaskWrite] = []
            for w in writes {
                if case .purge = w {
                    try await Self.applyInRounds(segment, c)
                    segment.removeAll()
                    try await Self.apply(w, c)
                } else {
                    segment.append(w)
                }
            }
            try await Self.applyInRounds(segment, c)
        }
    }

    static func taskID(of w: TaskWrite) -> String {
        switch w {
        case .insert(let t): t.id
        case .started(let a, _): a.taskID
        case .attemptFinished(let a): a.taskID
        case .state(let id, _, _, _, _, _, _, _): id
        case .redrive(let id, _): id
        case .purge: ""
        }
    }

    static func applyInRounds(_ writes: [TaskWrite], _ c: PostgresConnection) async throws {
        guard !writes.isEmpty else { return }
        var perTask: [String: [TaskWrite]] = [:]
        var order: [String] = []
        for w in writes {
            let id = taskID(of: w)
            if perTask[id] == nil { order.append(id) }
            perTask[id, default: []].append(w)
        }
        var round = 0
        while true {
            let batch = order.compactMap { id in perTask[id].flatMap { round < $0.count ? $0[round] : nil } }
            if batch.isEmpty { break }
            try await applyRound(batch, c)
            round += 1
        }
    }

    /// Writes of distinct tasks: each kind in one statement.
    static func applyRound(_ writes: [TaskWrite], _ c: PostgresConnection) async throws {
        var inserts: [TaskRecord] = []
        var started: [(TaskAttempt, Int)] = []
        var finished: [TaskAttempt] = []
        var states: [(id: String, state: TaskState, attempts: Int, runAt: Date, finishedAt: Date?, result: Data?, error: Data?, at: Date)] = []
        for w in writes {
            switch w {
            case .insert(let t): inserts.append(t)
            case .started(let a, let starts): started.append((a, starts))
            case .attemptFinished(let a): finished.append(a)
            case .state(let id, let state, let attempts, let runAt, let finishedAt, let result, let error, let at):
                states.append((id, state, attempts, runAt, finishedAt, result, error, at))
            case .redrive, .purge: try await apply(w, c)
            }
        }
        func bytes(_ d: Data?) -> ByteBuffer { ByteBuffer(bytes: d ?? Data()) }
        if !inserts.isEmpty { try await insert(inserts, c) }
        if !started.isEmpty {
            try await c.run(
                """
                UPDATE tasks SET state = 'running', starts = x.starts, updated_at = x.at
                FROM unnest(?::text[], ?::int8[], ?::float8[]) AS x(id, starts, at) WHERE tasks.id = x.id
                """,
                [started.map(\.0.taskID), started.map { Int64($0.1) }, started.map(\.0.startedAt.timeIntervalSince1970)])
            try await c.run(
                """
                INSERT INTO task_attempts (task_id, number, request_id, started_at, queue_delay_ms, cold_start)
                SELECT t, n, r, s, q, FALSE FROM unnest(?::text[], ?::int8[], ?::text[], ?::float8[], ?::float8[]) AS x(t, n, r, s, q)
                ON CONFLICT (task_id, number) DO UPDATE SET request_id = excluded.request_id, started_at = excluded.started_at,
                    queue_delay_ms = excluded.queue_delay_ms, cold_start = FALSE, finished_at = NULL, outcome = NULL,
                    error_type = NULL, error = NULL, duration_ms = NULL
                """,
                [started.map(\.0.taskID), started.map { Int64($0.0.number) }, started.map(\.0.requestID),
                 started.map(\.0.startedAt.timeIntervalSince1970), started.map(\.0.queueDelayMs)])
        }
        if !finished.isEmpty {
            try await c.run(
                """
                UPDATE task_attempts SET finished_at = NULLIF(x.f, -1), outcome = NULLIF(x.o, ''), error_type = NULLIF(x.et, ''),
                    error = CASE WHEN x.he THEN x.e END, duration_ms = CASE WHEN x.hd THEN x.d END, cold_start = x.c
                FROM unnest(?::text[], ?::int8[], ?::float8[], ?::text[], ?::text[], ?::bool[], ?::bytea[], ?::bool[], ?::float8[], ?::bool[])
                    AS x(t, n, f, o, et, he, e, hd, d, c)
                WHERE task_attempts.task_id = x.t AND task_attempts.number = x.n
                """,
                [finished.map(\.taskID), finished.map { Int64($0.number) }, finished.map { $0.finishedAt?.timeIntervalSince1970 ?? -1 },
                 finished.map { $0.outcome ?? "" }, finished.map { $0.errorType ?? "" }, finished.map { $0.error != nil },
                 finished.map { bytes($0.error) }, finished.map { $0.durationMs != nil }, finished.map { $0.durationMs ?? 0 },
                 finished.map(\.coldStart)])
        }
        if !states.isEmpty {
            // A finished task is nobody's any more.
            try await c.run(
                """
                UPDATE tasks SET state = x.st, attempts = x.a, run_at = x.r, finished_at = NULLIF(x.f, -1),
                    result = CASE WHEN x.hr THEN x.res END, error = CASE WHEN x.he THEN x.err END, updated_at = x.at,
                    lease_owner = CASE WHEN x.fin THEN NULL ELSE tasks.lease_owner END,
                    lease_until = CASE WHEN x.fin THEN NULL ELSE tasks.lease_until END
                FROM unnest(?::text[], ?::text[], ?::int8[], ?::float8[], ?::float8[], ?::bool[], ?::bytea[], ?::bool[], ?::bytea[], ?::float8[], ?::bool[])
                    AS x(id, st, a, r, f, hr, res, he, err, at, fin)
                WHERE tasks.id = x.id
                """,
                [states.map(\.id), states.map(\.state.rawValue), states.map { Int64($0.attempts) }, states.map(\.runAt.timeIntervalSince1970),
                 states.map { $0.finishedAt?.timeIntervalSince1970 ?? -1 }, states.map { $0.result != nil }, states.map { bytes($0.result) },
                 states.map { $0.error != nil }, states.map { bytes($0.error) }, states.map(\.at.timeIntervalSince1970),
                 states.map(\.state.isFinal)])
        }
    }

    static func insert(_ tasks: [TaskRecord], _ c: PostgresConnection) async throws {
        func bytes(_ d: Data?) -> ByteBuffer { ByteBuffer(bytes: d ?? Data()) }
        try await c.run(
            """
            INSERT INTO tasks (id, namespace, function, qualifier, state, priority, payload, idempotency_key, timeout,
                created_at, run_at, attempts, starts, updated_at, finished_at, result, error, trace_parent)
            SELECT id, ns, fn, q, st, pr, pl, NULLIF(ik, ''), NULLIF(tm, -1), ca, ra, at, sr, ua, NULLIF(fa, -1),
                CASE WHEN hr THEN r END, CASE WHEN he THEN e END, NULLIF(tp, '')
            FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int8[], ?::bytea[], ?::text[], ?::int8[],
                ?::float8[], ?::float8[], ?::int8[], ?::int8[], ?::float8[], ?::float8[], ?::bool[], ?::bytea[], ?::bool[], ?::bytea[],
                ?::text[])
                AS x(id, ns, fn, q, st, pr, pl, ik, tm, ca, ra, at, sr, ua, fa, hr, r, he, e, tp)
            """,
            [
                tasks.map(\.id), tasks.map(\.namespace), tasks.map(\.function), tasks.map(\.qualifier), tasks.map(\.state.rawValue),
                tasks.map { Int64($0.priority) }, tasks.map { ByteBuffer(bytes: $0.payload) }, tasks.map { $0.idempotencyKey ?? "" },
                tasks.map { Int64($0.timeout ?? -1) }, tasks.map(\.createdAt.timeIntervalSince1970), tasks.map(\.runAt.timeIntervalSince1970),
                tasks.map { Int64($0.attempts) }, tasks.map { Int64($0.starts) }, tasks.map(\.updatedAt.timeIntervalSince1970),
                tasks.map { $0.finishedAt?.timeIntervalSince1970 ?? -1 }, tasks.map { $0.result != nil }, tasks.map { bytes($0.result) },
                tasks.map { $0.error != nil }, tasks.map { bytes($0.error) }, tasks.map { $0.traceParent ?? "" },
            ])
    }

    static func apply(_ w: TaskWrite, _ c: PostgresConnection) async throws {
        switch w {
        case .insert(let t):
            try await insert([t], c)
        case .started(let a, let starts):
            try await c.run("UPDATE tasks SET state = 'running', starts = ?, updated_at = ? WHERE id = ?", [starts, a.startedAt.timeIntervalSince1970, a.taskID])
            try await c.run(
                """
                INSERT INTO task_attempts (task_id, number, request_id, started_at, queue_delay_ms, cold_start) VALUES (?, ?, ?, ?, ?, FALSE)
                ON CONFLICT (task_id, number) DO UPDATE SET request_id = excluded.request_id, started_at = excluded.started_at,
                    queue_delay_ms = excluded.queue_delay_ms, cold_start = FALSE, finished_at = NULL, outcome = NULL,
                    error_type = NULL, error = NULL, duration_ms = NULL
                """,
                [a.taskID, a.number, a.requestID, a.startedAt.timeIntervalSince1970, a.queueDelayMs])
        case .attemptFinished(let a):
            try await c.run(
                """
                UPDATE task_attempts SET finished_at = ?, outcome = ?, error_type = ?, error = ?, duration_ms = ?, cold_start = ?
                WHERE task_id = ? AND number = ?
                """,
                [a.finishedAt?.timeIntervalSince1970, a.outcome, a.errorType, a.error, a.durationMs, a.coldStart, a.taskID, a.number])
        case .state(let id, let state, let attempts, let runAt, let finishedAt, let result, let error, let at):
            // A finished task is nobody's any more.
            try await c.run(
                """
                UPDATE tasks SET state = ?, attempts = ?, run_at = ?, finished_at = ?, result = ?, error = ?, updated_at = ?,
                    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END, lease_until = CASE WHEN ? THEN NULL ELSE lease_until END
                WHERE id = ?
                """,
                [state.rawValue, attempts, runAt.timeIntervalSince1970, finishedAt?.timeIntervalSince1970, result, error, at.timeIntervalSince1970,
                 state.isFinal, state.isFinal, id])
        case .redrive(let id, let at):
            let t = at.timeIntervalSince1970
            try await c.run(
                """
                UPDATE tasks SET state = 'queued', attempts = 0, run_at = ?, created_at = ?, finished_at = NULL,
                    result = NULL, error = NULL, updated_at = ?, lease_owner = NULL, lease_until = NULL WHERE id = ?
                """,
                [t, t, t, id])
        case .purge(let before):
            let cutoff = before.timeIntervalSince1970
            try await c.run(
                "DELETE FROM task_attempts WHERE task_id IN (SELECT id FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?)", [cutoff])
            try await c.run("DELETE FROM tasks WHERE finished_at IS NOT NULL AND finished_at < ?", [cutoff])
            // Keys whose window ended hold nothing any more.
            try await c.run(
                "DELETE FROM task_idempotency WHERE created_at < extract(epoch FROM clock_timestamp()) - ?", [TaskLimits.idempotencyWindow])
        }
    }

    public func setLimits(_ limits: NamespaceTaskLimits, namespace: String) async throws {
        try await run(
            "INSERT INTO namespace_limits (namespace, settings) VALUES (?, ?) ON CONFLICT (namespace) DO UPDATE SET settings = excluded.settings",
            [namespace, try json(limits)])
    }

    public func allLimits() async throws -> [String: NamespaceTaskLimits] {
        var out: [String: NamespaceTaskLimits] = [:]
        for row in try await rows("SELECT namespace, settings FROM namespace_limits", []) {
            out[try row.decode("namespace")] = try decodeJSON(NamespaceTaskLimits.self, try row.decode("settings"))
        }
        return out
    }

    public func recover(at now: Date) async throws -> [TaskRecord] {
        try await transaction { c in
            try await c.run(
                "UPDATE task_attempts SET finished_at = ?, outcome = 'interrupted' WHERE finished_at IS NULL", [now.timeIntervalSince1970])
            try await c.run("UPDATE tasks SET state = 'queued', updated_at = ? WHERE state = 'running'", [now.timeIntervalSince1970])
            return try await c.rows("SELECT * FROM tasks WHERE state = 'queued' ORDER BY created_at", []).map(Self.task)
        }
    }

    public func recentIdempotencyKeys(since: Date) async throws -> [StoredIdempotencyKey] {
        try await rows(
            """
            SELECT namespace, function, idempotency_key, id, created_at FROM tasks
            WHERE idempotency_key IS NOT NULL AND created_at >= ? ORDER BY created_at
            """,
            [since.timeIntervalSince1970]
        ).map {
            StoredIdempotencyKey(
                namespace: try $0.decode("namespace"), function: try $0.decode("function"), key: try $0.decode("idempotency_key"),
                taskID: try $0.decode("id"), createdAt: try $0.date("created_at"))
        }
    }

    public func task(id: String, namespace: String) async throws -> TaskRecord? {
        try await rows("SELECT * FROM tasks WHERE id = ? AND namespace = ?", [id, namespace]).first.map(Self.task)
    }

    public func attempts(taskID: String) async throws -> [TaskAttempt] {
        try await rows("SELECT * FROM task_attempts WHERE task_id = ? ORDER BY number", [taskID]).map { r in
            TaskAttempt(
                taskID: try r.decode("task_id"), number: try r.decode("number"), requestID: try r.decode("request_id"),
                startedAt: try r.date("started_at"), finishedAt: try r.optionalDate("finished_at"), outcome: try r.decode("outcome"),
                errorType: try r.decode("error_type"), error: try r.decode("error"), queueDelayMs: try r.decode("queue_delay_ms"),
                durationMs: try r.decode("duration_ms"), coldStart: try r.decode("cold_start"))
        }
    }

    public func list(
        namespace: String, function: String?, state: TaskState?, since: Date?, until: Date?, before: (Date, String)?, limit: Int
    ) async throws -> [TaskRecord] {
        let q = TaskStore.listQuery(namespace: namespace, function: function, state: state, since: since, until: until, before: before, limit: limit)
        return try await rows(q.sql, q.postgresArguments).map(Self.task)
    }

    public func summary(namespace: String, function: String?) async throws -> TaskSummary {
        var sql = "SELECT state, COUNT(*) AS n FROM tasks WHERE namespace = ?"
        var args: [(any PostgresThrowingDynamicTypeEncodable)?] = [namespace]
        if let function {
            sql += " AND function = ?"
            args.append(function)
        }
        sql += " GROUP BY state"
        var out: TaskSummary = [:]
        for s in TaskState.allCases { out[s] = 0 }
        for row in try await rows(sql, args) {
            if let s = TaskState(rawValue: try row.decode("state")) { out[s] = try row.decode("n", as: Int.self) }
        }
        return out
    }

    static func task(_ r: PostgresRandomAccessRow) throws -> TaskRecord {
        TaskRecord(
            id: try r.decode("id"), namespace: try r.decode("namespace"), function: try r.decode("function"), qualifier: try r.decode("qualifier"),
            state: TaskState(rawValue: try r.decode("state")) ?? .queued, priority: try r.decode("priority"), payload: try r.decode("payload"),
            idempotencyKey: try r.decode("idempotency_key"), timeout: try r.decode("timeout"), createdAt: try r.date("created_at"),
            runAt: try r.date("run_at"), attempts: try r.decode("attempts"), starts: try r.decode("starts"),
            updatedAt: try r.date("updated_at"), finishedAt: try r.optionalDate("finished_at"), result: try r.decode("result"),
            error: try r.decode("error"), traceParent: try r.decode("trace_parent"))
    }
}

extension PostgresStore: TaskLeasing {
    public func claimTasks(node: String, limit: Int, lease: TimeInterval, now: Date) async throws -> [TaskRecord] {
        guard limit > 0 else { return [] }
        let t = now.timeIntervalSince1970
        return try await transaction { c in
            // Leases are stamped and compared with the database's clock (nodes' clocks never
            // matter); `now` only says which tasks are due.
            // Fair share across namespaces: the candidates are taken round-robin over the
            // namespaces (each one's best first: priority, then age), weighted by their
            // `weight` (a namespace of weight 2 has two turns for one of weight 1), so a
            // namespace with a flood of tasks cannot hold every claim and the weights hold
            // across the cluster; rows are re-checked when locked.
            // Functions with an explicit async cap offer at most as many candidates as they
            // have free slots (a first estimate without locks; `admitCapped` decides). Without
            // any capped function in the catalog, the claim is the plain one.
            let anyCap = try await c.rows(
                "SELECT EXISTS (SELECT 1 FROM functions WHERE async_cap IS NOT NULL) OR EXISTS (SELECT 1 FROM versions WHERE async_cap IS NOT NULL) AS capped",
                []
            ).first?.decode("capped", as: Bool.self) ?? true
            let picked = anyCap
                ? try await c.rows(Self.claimCappedSQL, [node, t, limit * 4, limit])
                : try await c.rows(Self.claimSQL, [t, limit * 4, limit])
            guard !picked.isEmpty else { return [] }
            var candidates: [TaskCapAdmission.Candidate] = []
            var states: [String: String] = [:]
            for row in picked {
                let id = try row.decode("id", as: String.self)
                states[id] = try row.decode("state", as: String.self)
                candidates.append(TaskCapAdmission.Candidate(
                    id: id, function: .init(namespace: try row.decode("namespace"), function: try row.decode("function")),
                    cap: try row.decode("cap", as: Int64?.self).map(Int.init)))
            }
            let ids = try await Self.admitCapped(candidates, node: node, c)
            guard !ids.isEmpty else { return [] }
            let interrupted = ids.filter { states[$0] == TaskState.running.rawValue }
            if !interrupted.isEmpty {
                try await c.run(
                    "UPDATE task_attempts SET finished_at = ?, outcome = 'interrupted' WHERE task_id = ANY(?::text[]) AND finished_at IS NULL",
                    [t, interrupted])
            }
            return try await c.rows(
                """
                UPDATE tasks SET lease_owner = ?, lease_until = extract(epoch FROM clock_timestamp()) + ?, state = 'queued', updated_at = ?
                WHERE id = ANY(?::text[]) RETURNING *
                """,
                [node, lease, t, ids]
            ).map(Self.task).sorted { a, b in
                a.priority != b.priority ? a.priority > b.priority : a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.id < b.id
            }
        }
    }

    /// Namespace weights, read once per claim (`weight` of `namespace_limits`, default 1).
    static let weightsCTE = """
        weights AS MATERIALIZED (
            SELECT namespace, greatest(coalesce((settings::jsonb ->> 'weight')::float8, 1), 0.001) AS weight FROM namespace_limits
        )
        """

    /// The claim's candidates when no function has an explicit async cap: due tasks nobody
    /// holds, namespaces in weighted turns, each one's best first; locked, skipping rows
    /// another claim holds. Arguments: now, candidates, limit.
    static let claimSQL = """
        WITH \(weightsCTE)
        SELECT t.id, t.state, t.namespace, t.function, NULL::int8 AS cap FROM tasks t JOIN (
            SELECT q.id, q.priority, q.created_at,
                row_number() OVER (PARTITION BY q.namespace ORDER BY q.priority DESC, q.created_at, q.id) / coalesce(w.weight, 1) AS turn
            FROM tasks q LEFT JOIN weights w ON w.namespace = q.namespace
            WHERE q.state IN ('queued', 'running') AND (q.lease_owner IS NULL OR q.lease_until < extract(epoch FROM clock_timestamp()))
                AND (q.run_at <= ? OR q.state = 'running')
            ORDER BY turn, q.priority DESC, q.created_at, q.id LIMIT ?) AS candidate ON candidate.id = t.id
        WHERE t.state IN ('queued', 'running') AND (t.lease_owner IS NULL OR t.lease_until < extract(epoch FROM clock_timestamp()))
        ORDER BY candidate.turn, candidate.priority DESC, candidate.created_at, t.id
        LIMIT ? FOR UPDATE OF t SKIP LOCKED
        """

    /// The same with capped functions: each task gets the cap of the version its qualifier
    /// names (`caps`: `$LATEST`, a version, an alias's main version), and a capped
    /// function offers at most its free slots (`room`: the cap less its live leases, and
    /// this node's share `⌈cap / nodes⌉` less its own). Arguments: node, now, candidates, limit.
    static let claimCappedSQL = """
        WITH alive AS (
            SELECT greatest(1, count(*))::int8 AS n FROM nodes WHERE heartbeat_at >= extract(epoch FROM clock_timestamp()) - 5
        ), caps AS (
            SELECT namespace, name AS function, '$LATEST' AS qualifier, async_cap AS cap FROM functions WHERE async_cap IS NOT NULL
            UNION ALL
            SELECT namespace, function, version::text, async_cap FROM versions WHERE async_cap IS NOT NULL
            UNION ALL
            SELECT a.namespace, a.function, a.name, v.async_cap FROM aliases a JOIN versions v
                ON v.namespace = a.namespace AND v.function = a.function AND v.version = (a.config::jsonb ->> 'version')::int8
            WHERE v.async_cap IS NOT NULL
        ), held AS (
            SELECT namespace, function, count(*) AS total, count(*) FILTER (WHERE lease_owner = ?) AS mine FROM tasks
            WHERE lease_owner IS NOT NULL AND lease_until >= extract(epoch FROM clock_timestamp()) AND state IN ('queued', 'running')
                AND (namespace, function) IN (SELECT namespace, function FROM caps)
            GROUP BY namespace, function
        ), room AS (
            SELECT c.namespace, c.function, c.qualifier, c.cap,
                greatest(0, least(c.cap - coalesce(h.total, 0), (c.cap + alive.n - 1) / alive.n - coalesce(h.mine, 0))) AS free
            FROM caps c CROSS JOIN alive LEFT JOIN held h ON h.namespace = c.namespace AND h.function = c.function
        ), \(weightsCTE)
        SELECT t.id, t.state, t.namespace, t.function, candidate.cap FROM tasks t JOIN (
            SELECT due.id, due.cap, due.priority, due.created_at,
                row_number() OVER (PARTITION BY due.namespace ORDER BY due.priority DESC, due.created_at, due.id) / coalesce(w.weight, 1) AS turn
            FROM (
                SELECT q.id, q.namespace, q.priority, q.created_at, r.cap, r.free,
                    row_number() OVER (PARTITION BY q.namespace, q.function, r.cap IS NULL ORDER BY q.priority DESC, q.created_at, q.id) AS slot
                FROM tasks q LEFT JOIN room r ON r.namespace = q.namespace AND r.function = q.function AND r.qualifier = q.qualifier
                WHERE q.state IN ('queued', 'running') AND (q.lease_owner IS NULL OR q.lease_until < extract(epoch FROM clock_timestamp()))
                    AND (q.run_at <= ? OR q.state = 'running')
            ) AS due LEFT JOIN weights w ON w.namespace = due.namespace
            WHERE due.cap IS NULL OR due.slot <= due.free
            ORDER BY turn, due.priority DESC, due.created_at, due.id LIMIT ?) AS candidate ON candidate.id = t.id
        WHERE t.state IN ('queued', 'running') AND (t.lease_owner IS NULL OR t.lease_until < extract(epoch FROM clock_timestamp()))
        ORDER BY candidate.turn, candidate.priority DESC, candidate.created_at, t.id
        LIMIT ? FOR UPDATE OF t SKIP LOCKED
        """

    /// The candidates a claim takes: all of uncapped functions; of capped ones, what
    /// ``TaskCapAdmission`` allows, counted under each function's advisory lock (tried, never
    /// waited for: a function another claim is counting right now is skipped this time). The
    /// locks are the transaction's, so they are released when the claim's leases are committed.
    static func admitCapped(_ candidates: [TaskCapAdmission.Candidate], node: String, _ c: PostgresConnection) async throws -> [String] {
        let capped = Array(Set(candidates.filter { $0.cap != nil }.map(\.function))).sorted { ($0.namespace, $0.function) < ($1.namespace, $1.function) }
        guard !capped.isEmpty else { return candidates.map(\.id) }
        var locked: Set<TaskCapAdmission.Function> = []
        for row in try await c.rows(
            """
            SELECT ns, fn, pg_try_advisory_xact_lock(hashtextextended('swell.async-cap:' || ns || '/' || fn, 7356227002)) AS locked
            FROM unnest(?::text[], ?::text[]) AS x(ns, fn)
            """,
            [capped.map(\.namespace), capped.map(\.function)])
        where try row.decode("locked", as: Bool.self) {
            locked.insert(.init(namespace: try row.decode("ns"), function: try row.decode("fn")))
        }
        guard !locked.isEmpty else { return TaskCapAdmission.admit(candidates, held: [:], locked: [], nodes: 1) }
        // Counted after the locks were taken: every claim committed before sees its leases here.
        let list = Array(locked)
        var held: [TaskCapAdmission.Function: TaskCapAdmission.Held] = [:]
        for row in try await c.rows(
            """
            SELECT namespace, function, count(*) AS total, count(*) FILTER (WHERE lease_owner = ?) AS mine FROM tasks
            WHERE (namespace, function) IN (SELECT * FROM unnest(?::text[], ?::text[])) AND lease_owner IS NOT NULL
                AND lease_until >= extract(epoch FROM clock_timestamp()) AND state IN ('queued', 'running')
            GROUP BY namespace, function
            """,
            [node, list.map(\.namespace), list.map(\.function)])
        {
            held[.init(namespace: try row.decode("namespace"), function: try row.decode("function"))] =
                .init(total: Int(try row.decode("total", as: Int64.self)), mine: Int(try row.decode("mine", as: Int64.self)))
        }
        let nodes = try await c.rows(
            "SELECT greatest(1, count(*))::int8 AS n FROM nodes WHERE heartbeat_at >= extract(epoch FROM clock_timestamp()) - 5", []
        ).first?.decode("n", as: Int64.self) ?? 1
        return TaskCapAdmission.admit(candidates, held: held, locked: locked, nodes: Int(nodes))
    }

    public func renewLeases(node: String, ids: [String], until: Date) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        // `until` is this node's wish; the lease is stamped with the database's clock.
        let seconds = max(0, until.timeIntervalSinceNow)
        let renewed = try await rows(
            "UPDATE tasks SET lease_until = extract(epoch FROM clock_timestamp()) + ? WHERE id = ANY(?::text[]) AND lease_owner = ? RETURNING id",
            [seconds, ids, node])
        return Set(ids).subtracting(try renewed.map { try $0.decode("id", as: String.self) })
    }

    public func releaseLeases(node: String, ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await run(
            "UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE id = ANY(?::text[]) AND lease_owner = ? AND state = 'queued'",
            [ids, node])
    }

    public func stopUnclaimed(id: String, namespace: String, at: Date) async throws -> Bool {
        let t = at.timeIntervalSince1970
        return !(try await rows(
            """
            UPDATE tasks SET state = 'stopped', finished_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
            WHERE id = ? AND namespace = ? AND state = 'queued'
                AND (lease_owner IS NULL OR lease_until < extract(epoch FROM clock_timestamp()))
            RETURNING id
            """,
            [t, t, id, namespace])
        ).isEmpty
    }

    public func idempotentTask(namespace: String, function: String, key: String, since: Date) async throws -> String? {
        try await rows(
            """
            SELECT id FROM tasks WHERE namespace = ? AND function = ? AND idempotency_key = ? AND created_at >= ?
            ORDER BY created_at LIMIT 1
            """,
            [namespace, function, key, since.timeIntervalSince1970]
        ).first?.decode("id", as: String.self)
    }
}
