using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.Modules;

namespace Alora.Training;

/// <summary>
/// The run's metrics.jsonl as TensorBoard scalars (option --tensorboard): every number of a step's line but the step
/// itself, under the tag "train/KEY", at that step, in event files of RUN/tensorboard written by TorchSharp's
/// SummaryWriter. metrics.jsonl stays the record: when training starts (fresh, resumed, or restarted from step 0), the
/// event files there are replaced by one new file that holds the lines metrics.jsonl kept, and the steps then
/// trained are appended to it, so the files hold each step once, with metrics.jsonl's values, even when a resumed run
/// repeats steps past its last checkpoint.
/// </summary>
internal sealed class TensorBoardLog
{
    public const string Folder = "tensorboard";
    public const string TagPrefix = "train/";

    readonly SummaryWriter _writer;

    // unix seconds at which the run's elapsed_seconds was 0: an event's wall time is it plus the line's elapsed
    // seconds, so TensorBoard's relative time axis is the run's elapsed time across resumed segments
    readonly double _origin;

    TensorBoardLog(SummaryWriter writer, double origin) => (_writer, _origin) = (writer, origin);

    /// <summary>Replaces the event files of <paramref name="runDir"/>'s tensorboard folder by one holding the lines of its metrics.jsonl.</summary>
    public static TensorBoardLog Start(string runDir, double elapsedBefore)
    {
        var dir = Path.Combine(runDir, Folder);
        Clear(runDir);
        var log = new TensorBoardLog(
            torch.utils.tensorboard.SummaryWriter(dir),
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 - elapsedBefore
        );
        foreach (var line in MetricsLog.ReadLines(runDir))
            log.Write(line);
        return log;
    }

    /// <summary>Removes the event files a run left (metrics.jsonl is what they are made from).</summary>
    public static void Clear(string runDir)
    {
        var dir = Path.Combine(runDir, Folder);
        if (!Directory.Exists(dir))
            return;
        foreach (var f in Directory.EnumerateFiles(dir, "events.out.tfevents.*"))
            File.Delete(f);
    }

    /// <summary>One line of metrics.jsonl: each number but the step as a scalar at that step (a non-finite one, which the line holds as a string, as its float).</summary>
    public void Write(JsonObject line)
    {
        ArgumentNullException.ThrowIfNull(line);
        int step = checked((int)line["step"]!.GetValue<long>());
        long wall = (long)Math.Round(_origin + (Number(line["elapsed_seconds"]) is { } e && double.IsFinite(e) ? e : 0));
        foreach (var (key, node) in line)
            if (key != "step" && Number(node) is { } v)
                _writer.add_scalar(TagPrefix + key, (float)v, step, wall);
    }

    /// <summary>
    /// A line's number, read from its JSON text: a value made from a long (the token counts) does not convert to double
    /// through JsonValue.TryGetValue; "NaN", "Infinity" and "-Infinity" are MetricsLog's non-finite numbers.
    /// </summary>
    static double? Number(JsonNode? node)
    {
        if (node is not JsonValue v)
            return null;
        var text = v.GetValueKind() switch
        {
            JsonValueKind.Number => v.ToJsonString(),
            JsonValueKind.String => v.GetValue<string>(),
            _ => null,
        };
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }
}
