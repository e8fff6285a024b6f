using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Methods;
using Alora.Models;

namespace Alora.Experiments;

/// <summary>One row of results.csv: a method at a seed on a domain task (sweep rows name the swept key and value).</summary>
public sealed record ResultRow
{
    public required string Method { get; init; }
    public string? Sweep { get; init; }
    public double? SweepValue { get; init; }
    public required long Seed { get; init; }
    public required string Task { get; init; }
    public double GeneralPpl { get; init; } = double.NaN;
    public double Acc { get; init; } = double.NaN;
    public double AccNorm { get; init; } = double.NaN;

    /// <summary>Domain-stage training time of this run (0 for base).</summary>
    public double? TrainSeconds { get; init; }

    /// <summary>The whole general stage this run continues (shared with the other methods of its seed).</summary>
    public double? GeneralStageSeconds { get; init; }

    /// <summary>Of which the SI recording (the importance estimate's overhead).</summary>
    public double? SiRecordSeconds { get; init; }
    public double? FisherSeconds { get; init; }
    public long? OmegaBytes { get; init; }
    public long? FisherBytes { get; init; }

    /// <summary>Peak host memory (resident) of the domain-stage training.</summary>
    public long? PeakMemoryBytes { get; init; }
    public double? Phi { get; init; }
    public double? Xi { get; init; }
    public int? Rank { get; init; }
    public string? LayerWeights { get; init; }
    public double? EwcLambda { get; init; }
    public double? FinalTaskLoss { get; init; }
    public double? FinalPenalty { get; init; }
    public required string Run { get; init; }

    /// <summary>Probe name -> (acc, acc_norm).</summary>
    public IReadOnlyDictionary<string, (double Acc, double AccNorm)> Probes { get; init; } = new Dictionary<string, (double, double)>();
}

/// <summary>Per-run result.json files and the tidy results.csv built from them (and read back by the report).</summary>
public static class ExperimentResults
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static readonly string[] Columns =
    [
        "method",
        "sweep",
        "sweep_value",
        "seed",
        "task",
        "general_ppl",
        "acc",
        "acc_norm",
        "train_seconds",
        "general_stage_seconds",
        "si_record_seconds",
        "fisher_seconds",
        "omega_bytes",
        "fisher_bytes",
        "peak_memory_bytes",
        "phi",
        "xi",
        "rank",
        "layer_weights",
        "ewc_lambda",
        "final_task_loss",
        "final_penalty",
        "run",
    ];

    /// <summary>DIR/runs/NAME/result.json: the job, its resolved configuration, its metrics, its evaluation and its costs (with those of the runs it continues).</summary>
    public static JsonObject WriteRunResult(ExperimentPlan plan, ExperimentJob job)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(job);
        var dir = plan.RunDir(job.Name);
        var o = new JsonObject
        {
            ["name"] = job.Name,
            ["kind"] = job.Kind.ToString().ToLowerInvariant(),
            ["method"] = job.Method,
            ["seed"] = job.Seed,
            ["task"] = job.Task,
            ["depends_on"] = new JsonArray(job.DependsOn.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
            ["config"] = ReadJson(Path.Combine(dir, "config.json"))
                ?? (job.Fisher is null ? null : JsonSerializer.SerializeToNode(job.Fisher, ExperimentConfig.Json)),
        };
        var summary = ReadJson(Path.Combine(dir, "summary.json"));
        o["summary"] = summary;
        o["metrics"] = MetricsSummary(dir);
        var costs = new JsonObject();
        if (summary is not null)
        {
            costs["train_seconds"] = summary["train_seconds"]?.DeepClone();
            costs["peak_memory_bytes"] = summary["peak_working_set_bytes"]?.DeepClone();
        }
        if (job.Kind == JobKind.General)
            AddImportanceCosts(costs, dir);
        if (job.Kind == JobKind.Fisher && ReadJson(Path.Combine(dir, "fisher.json")) is { } f)
        {
            costs["fisher_seconds"] = f["seconds"]?.DeepClone();
            costs["fisher_bytes"] = f["bytes"]?.DeepClone();
            costs["peak_memory_bytes"] = f["peak_memory_bytes"]?.DeepClone();
        }
        foreach (var dep in job.DependsOn.Select(plan.Job))
        {
            var depDir = plan.RunDir(dep.Name);
            if (dep.Kind == JobKind.General)
            {
                costs["general_stage_seconds"] = ReadJson(Path.Combine(depDir, "summary.json"))?["train_seconds"]?.DeepClone();
                AddImportanceCosts(costs, depDir);
            }
            else if (dep.Kind == JobKind.Fisher && ReadJson(Path.Combine(depDir, "fisher.json")) is { } df)
            {
                costs["fisher_seconds"] = df["seconds"]?.DeepClone();
                costs["fisher_bytes"] = df["bytes"]?.DeepClone();
            }
        }
        if (ReadJson(Path.Combine(dir, "eval.json")) is { } ev)
        {
            costs["eval_seconds"] = ev["seconds"]?.DeepClone();
            o["eval"] = new JsonObject
            {
                ["general_ppl"] = ev["perplexity"]?["general"]?["perplexity"]?.DeepClone(),
                ["general_word_perplexity"] = ev["perplexity"]?["general"]?["word_perplexity"]?.DeepClone(),
                ["general_bits_per_byte"] = ev["perplexity"]?["general"]?["bits_per_byte"]?.DeepClone(),
                ["tasks"] = ev["tasks"] is JsonObject tasks
                    ? new JsonObject(
                        tasks.Select(kv =>
                            KeyValuePair.Create(
                                kv.Key,
                                (JsonNode?)
                                    new JsonObject
                                    {
                                        ["acc"] = kv.Value?["acc"]?.DeepClone(),
                                        ["acc_norm"] = kv.Value?["acc_norm"]?.DeepClone(),
                                        ["n"] = kv.Value?["n"]?.DeepClone(),
                                    }
                            )
                        )
                    )
                    : null,
            };
        }
        o["costs"] = costs;
        o["layer_weights"] = ReadJson(Path.Combine(dir, "layer_weights.json"));
        if (job.Kind == JobKind.General)
            o["importance_norms"] = ImportanceNorms(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, "result.json"), o.ToJsonString(Indented) + "\n");
        return o;
    }

    static void AddImportanceCosts(JsonObject costs, string generalDir)
    {
        var path = Path.Combine(generalDir, "importance.safetensors");
        if (!File.Exists(path))
            return;
        var f = SafeTensorsFile.Open(path);
        var modules = f.Metadata.GetValueOrDefault("modules", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        costs["si_record_seconds"] = double.TryParse(
            f.Metadata.GetValueOrDefault("record_seconds"),
            NumberStyles.Float,
            CultureInfo.InvariantCulture,
            out var s
        )
            ? s
            : null;
        costs["omega_bytes"] = modules.Where(f.Entries.ContainsKey).Sum(m => f.Entries[m].End - f.Entries[m].Begin);
        costs["importance_file_bytes"] = new FileInfo(path).Length;
    }

    /// <summary>||Omega_m||_2 per module, computed once and kept in importance_norms.json (the file can be gigabytes).</summary>
    public static JsonObject? ImportanceNorms(string generalDir)
    {
        var cache = Path.Combine(generalDir, "importance_norms.json");
        var path = Path.Combine(generalDir, "importance.safetensors");
        if (!File.Exists(path))
            return null;
        if (ReadJson(cache) is JsonObject cached && File.GetLastWriteTimeUtc(cache) >= File.GetLastWriteTimeUtc(path))
            return cached;
        using var imp = ImportanceFile.Load(path);
        var norms = imp.Norms();
        var o = new JsonObject(imp.Modules.Select((m, i) => KeyValuePair.Create(m, (JsonNode?)JsonValue.Create(norms[i]))));
        AtomicFile.WriteAllText(cache, o.ToJsonString(Indented) + "\n");
        return o;
    }

    static JsonObject MetricsSummary(string dir)
    {
        var rows = ReadMetrics(dir);
        var o = new JsonObject { ["steps"] = rows.Count };
        if (rows.Count == 0)
            return o;
        o["first_task_loss"] = rows[0].TaskLoss;
        o["final_task_loss"] = rows[^1].TaskLoss;
        o["final_loss"] = rows[^1].Loss;
        o["final_penalty"] = rows[^1].Penalty;
        o["mean_tokens_per_second"] = rows.Average(r => r.TokensPerSecond);
        return o;
    }

    /// <summary>One step of metrics.jsonl: the task loss, the scaled penalty (alora_penalty or ewc_penalty, 0 without one) and the total.</summary>
    public sealed record MetricRow(long Step, double Loss, double TaskLoss, double? Penalty, double TokensPerSecond);

    public static List<MetricRow> ReadMetrics(string runDir)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
        if (!File.Exists(path))
            return [];
        var list = new List<MetricRow>();
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            var j = JsonNode.Parse(line)!;
            double? pen = j["alora_penalty"]?.GetValue<double>() ?? j["ewc_penalty"]?.GetValue<double>();
            list.Add(
                new MetricRow(
                    j["step"]!.GetValue<long>(),
                    j["loss"]!.GetValue<double>(),
                    j["task_loss"]!.GetValue<double>(),
                    pen,
                    j["tokens_per_second"]?.GetValue<double>() ?? 0
                )
            );
        }
        return list;
    }

    /// <summary>Rows of results.csv from the runs' result.json files, in the plan's order.</summary>
    public static List<ResultRow> Collect(ExperimentPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var cache = new Dictionary<string, JsonNode?>();
        JsonNode? Result(string run) => cache.TryGetValue(run, out var r) ? r : cache[run] = ReadJson(Path.Combine(plan.RunDir(run), "result.json"));
        var rows = new List<ResultRow>();
        foreach (var e in plan.Entries)
        {
            var r = Result(e.Run);
            var job = plan.Job(e.Run);
            var costs = r?["costs"];
            var tasks = r?["eval"]?["tasks"];
            var probes = tasks is JsonObject t
                ? t.Where(kv => !IsDomainTask(plan, kv.Key)).ToDictionary(kv => kv.Key, kv => (Num(kv.Value?["acc"]), Num(kv.Value?["acc_norm"])))
                : [];
            var general = job.DependsOn.Select(plan.Job).FirstOrDefault(d => d.Kind == JobKind.General)?.Train;
            var settings = ExperimentMethods.Settings(e.Method, job.Train, general);
            rows.Add(
                new ResultRow
                {
                    Method = e.Method,
                    Sweep = e.Sweep,
                    SweepValue = e.SweepValue,
                    Seed = e.Seed,
                    Task = e.Task,
                    Run = e.Run,
                    GeneralPpl = Num(r?["eval"]?["general_ppl"]),
                    Acc = Num(tasks?[e.Task]?["acc"]),
                    AccNorm = Num(tasks?[e.Task]?["acc_norm"]),
                    TrainSeconds = job.Kind == JobKind.Base ? 0 : Opt(costs?["train_seconds"]),
                    GeneralStageSeconds = Opt(costs?["general_stage_seconds"]),
                    SiRecordSeconds = Opt(costs?["si_record_seconds"]),
                    FisherSeconds = Opt(costs?["fisher_seconds"]),
                    OmegaBytes = OptLong(costs?["omega_bytes"]),
                    FisherBytes = OptLong(costs?["fisher_bytes"]),
                    PeakMemoryBytes = OptLong(costs?["peak_memory_bytes"]),
                    Phi = settings.Phi,
                    Xi = settings.Xi,
                    Rank = job.Kind == JobKind.Base ? null : (general ?? job.Train)?.Rank,
                    LayerWeights = settings.LayerWeights is { } w ? EnumNames<LayerWeighting>.Name(w) : null,
                    EwcLambda = settings.EwcLambda,
                    FinalTaskLoss = Opt(r?["metrics"]?["final_task_loss"]),
                    FinalPenalty = Opt(r?["metrics"]?["final_penalty"]),
                    Probes = probes,
                }
            );
        }
        return rows;
    }

    static bool IsDomainTask(ExperimentPlan plan, string name) => plan.Entries.Any(e => e.Task == name);

    public static void WriteCsv(string path, IReadOnlyList<ResultRow> rows, IReadOnlyList<string> probes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(probes);
        var sb = new StringBuilder();
        string[] header = [.. Columns, .. probes.SelectMany(p => new[] { p + "_acc", p + "_acc_norm" })];
        sb.AppendJoin(',', header.Select(Quote)).Append('\n');
        foreach (var r in rows)
        {
            string?[] cells =
            [
                r.Method,
                r.Sweep,
                F(r.SweepValue),
                r.Seed.ToString(CultureInfo.InvariantCulture),
                r.Task,
                F(r.GeneralPpl),
                F(r.Acc),
                F(r.AccNorm),
                F(r.TrainSeconds),
                F(r.GeneralStageSeconds),
                F(r.SiRecordSeconds),
                F(r.FisherSeconds),
                L(r.OmegaBytes),
                L(r.FisherBytes),
                L(r.PeakMemoryBytes),
                F(r.Phi),
                F(r.Xi),
                r.Rank?.ToString(CultureInfo.InvariantCulture),
                r.LayerWeights,
                F(r.EwcLambda),
                F(r.FinalTaskLoss),
                F(r.FinalPenalty),
                r.Run,
                .. probes.SelectMany(p => r.Probes.TryGetValue(p, out var v) ? new[] { F(v.Acc), F(v.AccNorm) } : new string?[] { null, null }),
            ];
            sb.AppendJoin(',', cells.Select(c => Quote(c ?? ""))).Append('\n');
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>Reads results.csv back (the report is built from it, so an edited or merged CSV gives its report).</summary>
    public static List<ResultRow> ReadCsv(string path)
    {
        var lines = ParseCsv(File.ReadAllText(path));
        if (lines.Count == 0)
            throw new AloraException($"{path}: empty");
        var header = lines[0];
        var col = header.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i, StringComparer.Ordinal);
        foreach (var need in new[] { "method", "seed", "task", "general_ppl", "acc", "acc_norm", "run" })
            if (!col.ContainsKey(need))
                throw new AloraException($"{path}: column '{need}' is missing");
        var probeNames = header.Where(h => h.EndsWith("_acc", StringComparison.Ordinal) && !Columns.Contains(h)).Select(h => h[..^4]).ToList();
        var rows = new List<ResultRow>();
        foreach (var cells in lines.Skip(1).Where(l => l.Count > 1))
        {
            string? S(string name) => col.TryGetValue(name, out var i) && i < cells.Count && cells[i].Length > 0 ? cells[i] : null;
            double? D(string name) => S(name) is { } s ? double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture) : null;
            long? Lg(string name) => S(name) is { } s ? long.Parse(s, CultureInfo.InvariantCulture) : null;
            rows.Add(
                new ResultRow
                {
                    Method = S("method") ?? "",
                    Sweep = S("sweep"),
                    SweepValue = D("sweep_value"),
                    Seed = Lg("seed") ?? 0,
                    Task = S("task") ?? "",
                    GeneralPpl = D("general_ppl") ?? double.NaN,
                    Acc = D("acc") ?? double.NaN,
                    AccNorm = D("acc_norm") ?? double.NaN,
                    TrainSeconds = D("train_seconds"),
                    GeneralStageSeconds = D("general_stage_seconds"),
                    SiRecordSeconds = D("si_record_seconds"),
                    FisherSeconds = D("fisher_seconds"),
                    OmegaBytes = Lg("omega_bytes"),
                    FisherBytes = Lg("fisher_bytes"),
                    PeakMemoryBytes = Lg("peak_memory_bytes"),
                    Phi = D("phi"),
                    Xi = D("xi"),
                    Rank = (int?)Lg("rank"),
                    LayerWeights = S("layer_weights"),
                    EwcLambda = D("ewc_lambda"),
                    FinalTaskLoss = D("final_task_loss"),
                    FinalPenalty = D("final_penalty"),
                    Run = S("run") ?? "",
                    Probes = probeNames.ToDictionary(p => p, p => (D(p + "_acc") ?? double.NaN, D(p + "_acc_norm") ?? double.NaN)),
                }
            );
        }
        return rows;
    }

    static List<List<string>> ParseCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false,
            any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char ch = text[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (ch == '"')
                    quoted = false;
                else
                    cell.Append(ch);
                continue;
            }
            switch (ch)
            {
                case '"':
                    quoted = true;
                    any = true;
                    break;
                case ',':
                    row.Add(cell.ToString());
                    cell.Clear();
                    any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    row.Add(cell.ToString());
                    cell.Clear();
                    rows.Add(row);
                    row = [];
                    any = false;
                    break;
                default:
                    cell.Append(ch);
                    any = true;
                    break;
            }
        }
        if (any)
        {
            row.Add(cell.ToString());
            rows.Add(row);
        }
        return rows;
    }

    static string Quote(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;

    static string? F(double? v) => v is { } x && double.IsFinite(x) ? x.ToString("R", CultureInfo.InvariantCulture) : null;

    static string? L(long? v) => v?.ToString(CultureInfo.InvariantCulture);

    static double Num(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN;

    static double? Opt(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    static long? OptLong(JsonNode? n) =>
        n is JsonValue v
            ? v.TryGetValue<long>(out var l)
                ? l
                : v.TryGetValue<double>(out var d)
                    ? (long)d
                    : null
            : null;

    internal static JsonNode? ReadJson(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonFile.Read(path);
        }
        catch (AloraException)
        {
            return null;
        }
    }
}
