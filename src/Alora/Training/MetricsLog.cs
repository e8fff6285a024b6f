using System.Globalization;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Runtime;

namespace Alora.Training;

/// <summary>
/// The run folder's metrics.jsonl: one JSON object per optimizer step, appended when the step ends, and cut back
/// to a checkpoint's step on resume so that every step appears once in the log of a resumed run.
/// </summary>
internal static class MetricsLog
{
    public const string FileName = "metrics.jsonl";

    /// <summary>Appends the step's line and returns it (what <see cref="TensorBoardLog"/> writes too).</summary>
    public static JsonObject Append(string runDir, StepMetrics m)
    {
        var o = new JsonObject
        {
            ["step"] = m.Step,
            ["epoch"] = Math.Round(m.Epoch, 4),
            ["loss"] = Number(m.Loss),
            ["task_loss"] = Number(m.TaskLoss),
        };
        foreach (var (k, v) in m.Penalties)
            o[k] = Number(v);
        o["lr"] = Number(m.Lr);
        o["grad_norm"] = Number(m.GradNorm);
        o["target_tokens"] = m.TargetTokens;
        o["tokens"] = m.Tokens;
        o["tokens_per_second"] = Math.Round(m.TokensPerSecond, 1);
        o["elapsed_seconds"] = Math.Round(m.ElapsedSeconds, 3);
        o["rss_mb"] = Math.Round(PeakMemory.CurrentBytes() / 1048576.0, 1);
        Directory.CreateDirectory(runDir);
        File.AppendAllText(Path.Combine(runDir, FileName), o.ToJsonString() + "\n");
        return o;
    }

    /// <summary>The lines of the run's metrics.jsonl (none when it has none).</summary>
    public static List<JsonObject> ReadLines(string runDir)
    {
        var path = Path.Combine(runDir, FileName);
        if (!File.Exists(path))
            return [];
        return File.ReadAllLines(path)
            .Where(l => l.Length > 0)
            .Select(l =>
            {
                LoggedStep(path, l);
                return JsonNode.Parse(l)!.AsObject();
            })
            .ToList();
    }

    /// <summary>Keeps the lines of steps up to <paramref name="step"/> (those a checkpoint covers).</summary>
    public static void Truncate(string runDir, long step)
    {
        var path = Path.Combine(runDir, FileName);
        if (!File.Exists(path))
            return;
        var keep = File.ReadAllLines(path).Where(l => l.Length > 0 && LoggedStep(path, l) <= step);
        AtomicFile.WriteAllText(path, string.Concat(keep.Select(l => l + "\n")));
    }

    /// <summary>A number as JSON; NaN and the infinities, which JSON lacks, as the strings "NaN", "Infinity", "-Infinity".</summary>
    static JsonValue Number(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture))!;

    /// <summary>The step of a metrics line; a line that is not one of ours is an error naming the file.</summary>
    static long LoggedStep(string path, string line)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject o && o["step"] is JsonValue v && v.TryGetValue<long>(out var s)
                ? s
                : throw new AloraException($"{path}: a line without a step: {line[..Math.Min(80, line.Length)]}");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new AloraException($"{path}: a line that is not JSON ({e.Message})", e);
        }
    }
}
