using System.Globalization;
using System.Text;
using Alora.IO;

namespace Alora.Experiments;

/// <summary>
/// results.csv: one row per result, numbers in invariant round-trip form, empty cells for missing values, and
/// quoting only where a cell holds a comma, a quote or a line break. Probe columns follow the fixed ones, as
/// PROBE_acc and PROBE_acc_norm. A column added later (adapter_scale) may be missing from an older file: its cells read as empty.
/// </summary>
public static class ResultsCsvFile
{
    /// <summary>The fixed columns, in their order.</summary>
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
        "replay_fraction",
        "adapter_scale",
        "strength",
        "final_task_loss",
        "final_penalty",
        "run",
    ];

    /// <summary>Writes the rows (atomically), with acc and acc_norm columns for each of <paramref name="probes"/>.</summary>
    public static void Write(string path, IReadOnlyList<ResultRow> rows, IReadOnlyList<string> probes)
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
                F(r.ReplayFraction),
                F(r.AdapterScale),
                F(r.Strength),
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
    public static List<ResultRow> Read(string path)
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
                    ReplayFraction = D("replay_fraction"), // empty in results.csv files older than the column
                    AdapterScale = D("adapter_scale"), // absent from results.csv files written before lora-scaled
                    Strength = D("strength"),
                    FinalTaskLoss = D("final_task_loss"),
                    FinalPenalty = D("final_penalty"),
                    Run = S("run") ?? "",
                    Probes = probeNames.ToDictionary(p => p, p => (D(p + "_acc") ?? double.NaN, D(p + "_acc_norm") ?? double.NaN)),
                }
            );
        }
        return rows;
    }

    /// <summary>Rows of cells: a quoted cell may hold commas and line breaks, "" inside quotes is a quote, \r is dropped.</summary>
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
}
