using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace Alora.Bench;

/// <summary>One shape of the run: Alora's measurement and, with --pytorch, PyTorch's of the same step right after it.</summary>
public sealed record TrainBenchEntry(TrainBenchShapeResult Alora, PyTorchStepResult? PyTorch)
{
    /// <summary>Alora's tokens/s over PyTorch's: above 1, Alora is faster.</summary>
    public double Ratio => PyTorch is null ? double.NaN : Alora.TokensPerSecond / PyTorch.TokensPerSecond;

    /// <summary>PyTorch's model FLOP/s over its own sgemm peak (its BLAS, not libtorch's).</summary>
    public double PyTorchMfu => PyTorch is null ? double.NaN : Alora.Flops.Total / (PyTorch.MedianMs / 1000) / 1e9 / PyTorch.SgemmGflops;
}

/// <summary>What <c>alora bench train</c> writes (<see cref="ToJson"/>) and prints (<see cref="ToTable"/>).</summary>
public sealed record TrainBenchReport(
    IReadOnlyList<TrainBenchEntry> Entries,
    DateTimeOffset Date,
    double WallSeconds,
    double[] LoadAverageStart,
    double[] LoadAverageEnd
)
{
    static JsonValue R(double v, int digits) => JsonValue.Create(Math.Round(v, digits));

    public JsonObject ToJson()
    {
        var shapes = new JsonArray();
        foreach (var e in Entries)
        {
            var j = e.Alora.ToJson();
            if (e.PyTorch is { } p)
            {
                var raw = (JsonObject)p.Raw.DeepClone();
                raw["mfu"] = R(e.PyTorchMfu, 4);
                j["pytorch"] = raw;
                j["alora_over_pytorch_tokens_per_second"] = R(e.Ratio, 4);
            }
            shapes.Add(j);
        }
        return new JsonObject
        {
            ["benchmark"] = "train",
            ["date"] = Date.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["lora"] = new JsonObject
            {
                ["rank"] = TrainBench.Rank,
                ["alpha"] = TrainBench.Alpha,
                ["targets"] = new JsonArray("q_proj", "v_proj"),
                ["optimizer"] = "adamw",
                ["lr"] = TrainBench.Lr,
                ["dtype"] = "float32",
            },
            ["model_flops_formula"] = TrainFlops.Formula,
            ["mfu_definition"] =
                "model_flops_per_step / median step seconds / sgemm peak (torch.mm float32 "
                + $"{TrainBench.SgemmSize}x{TrainBench.SgemmSize}, 2*n^3 FLOPs, best of {TrainBench.SgemmRepeats} after a warm-up, "
                + "same process and threads)",
            ["machine"] = new JsonObject
            {
                ["processor_count"] = Environment.ProcessorCount,
                ["os"] = RuntimeInformation.OSDescription,
                ["framework"] = RuntimeInformation.FrameworkDescription,
                ["load_average_start"] = new JsonArray(LoadAverageStart.Select(x => (JsonNode)x).ToArray()),
                ["load_average_end"] = new JsonArray(LoadAverageEnd.Select(x => (JsonNode)x).ToArray()),
            },
            ["shapes"] = shapes,
            ["wall_seconds"] = R(WallSeconds, 1),
        };
    }

    /// <summary>A readable summary for the terminal.</summary>
    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(
            c,
            $"train bench: Llama + LoRA r {TrainBench.Rank}, alpha {TrainBench.Alpha} on q_proj+v_proj, AdamW, float32, random weights and tokens; "
                + $"{Environment.ProcessorCount} processors, load {string.Join(" ", LoadAverageStart.Select(x => x.ToString("F2", c)))} -> "
                + $"{string.Join(" ", LoadAverageEnd.Select(x => x.ToString("F2", c)))}, {WallSeconds:F0} s"
        );
        sb.AppendLine();
        sb.AppendLine(
            c,
            $"{"shape", -15} {"threads", 7} {"steps", 5} {"tok/s", 9} {"ms/step", 10} {"min ms", 10} {"peak RSS MB", 12} "
                + $"{"GFLOP/step", 11} {"GFLOP/s", 8} {"sgemm GF/s", 10} {"MFU", 6}"
        );
        foreach (var e in Entries)
        {
            var a = e.Alora;
            sb.AppendLine(
                c,
                $"{a.Shape.Name, -15} {a.Shape.Threads, 7} {a.Steps, 5} {a.TokensPerSecond, 9:F0} {a.MedianMs, 10:F1} {a.MinMs, 10:F1} "
                    + $"{a.PeakRssBytes / 1048576.0, 12:F0} {a.Flops.Total / 1e9, 11:F2} {a.AchievedGflops, 8:F1} {a.SgemmGflops, 10:F1} {a.Mfu, 6:P1}"
            );
        }
        sb.AppendLine("(ms/step: median of the timed steps after the warm-up; MFU: model FLOPs per second over the sgemm peak of the same");
        sb.AppendLine(" threads; each shape in a process of its own, so the peak RSS is that shape's)");
        if (Entries.Any(e => e.PyTorch is not null))
        {
            var torch = Entries.First(e => e.PyTorch is not null).PyTorch!;
            sb.AppendLine();
            sb.AppendLine(c, $"PyTorch {torch.TorchVersion} ({torch.Blas}), tools/bench/pytorch_lora_step.py, same shapes and threads:");
            sb.AppendLine(
                c,
                $"{"shape", -15} {"tok/s", 9} {"ms/step", 10} {"min ms", 10} {"peak RSS MB", 12} {"sgemm GF/s", 10} {"MFU", 6} {"Alora/PyTorch", 14}"
            );
            foreach (var e in Entries.Where(e => e.PyTorch is not null))
            {
                var p = e.PyTorch!;
                sb.AppendLine(
                    c,
                    $"{e.Alora.Shape.Name, -15} {p.TokensPerSecond, 9:F0} {p.MedianMs, 10:F1} {p.MinMs, 10:F1} {p.PeakRssBytes / 1048576.0, 12:F0} "
                        + $"{p.SgemmGflops, 10:F1} {e.PyTorchMfu, 6:P1} {e.Ratio, 14:F3}"
                );
            }
            sb.AppendLine("(Alora/PyTorch: tokens/s over tokens/s, above 1 Alora is faster; PyTorch's MFU is over its own sgemm peak)");
        }
        return sb.ToString();
    }
}
