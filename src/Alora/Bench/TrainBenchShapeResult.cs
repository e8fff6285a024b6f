using System.Text.Json.Nodes;

namespace Alora.Bench;

/// <summary>
/// What <see cref="TrainBench.RunShape"/> measured for one shape. <see cref="ToJson"/> is what the child process writes
/// and <see cref="FromJson"/> what the parent reads back; the derived figures are recomputed from the raw ones.
/// </summary>
public sealed record TrainBenchShapeResult
{
    public required TrainBenchShape Shape { get; init; }
    public required int Warmup { get; init; }

    /// <summary>Wall-clock milliseconds of each timed optimizer step.</summary>
    public required IReadOnlyList<double> StepMs { get; init; }

    /// <summary>The process's peak resident bytes (VmHWM) after the timed steps.</summary>
    public required long PeakRssBytes { get; init; }
    public required TrainFlops Flops { get; init; }
    public required double SgemmGflops { get; init; }
    public required long Parameters { get; init; }
    public required long LoraParameters { get; init; }
    public required int TorchThreads { get; init; }

    /// <summary>Loss of the last step: about ln(vocab) on random tokens, a check that the step computed something sane.</summary>
    public required double Loss { get; init; }

    /// <summary>float32, or bfloat16 with <c>--base-weights-dtype bfloat16</c> (<see cref="Models.Bf16Storage"/>).</summary>
    public string BaseWeightsDtype { get; init; } = "float32";

    public int Steps => StepMs.Count;
    public double MedianMs => Median(StepMs);
    public double MinMs => StepMs.Min();
    public double TokensPerSecond => Shape.TokensPerStep / (MedianMs / 1000);

    /// <summary>Model FLOPs per step over the median step time.</summary>
    public double AchievedGflops => Flops.Total / (MedianMs / 1000) / 1e9;

    /// <summary>Model FLOPs utilisation: achieved FLOP/s over the measured sgemm peak of the same threads (not a datasheet peak).</summary>
    public double Mfu => AchievedGflops / SgemmGflops;

    public static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        if (s.Length == 0)
            return double.NaN;
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    static JsonValue R(double v, int digits) => JsonValue.Create(Math.Round(v, digits));

    public JsonObject ToJson()
    {
        var s = Shape;
        return new JsonObject
        {
            ["name"] = s.Name,
            ["shape"] = new JsonObject
            {
                ["vocab"] = s.Vocab,
                ["hidden"] = s.Hidden,
                ["layers"] = s.Layers,
                ["heads"] = s.Heads,
                ["kv_heads"] = s.KvHeads,
                ["intermediate"] = s.Intermediate,
                ["seq"] = s.Seq,
                ["batch"] = s.Batch,
            },
            ["threads"] = s.Threads,
            ["torch_threads"] = TorchThreads,
            ["steps"] = Steps,
            ["warmup"] = Warmup,
            ["parameters"] = Parameters,
            ["lora_parameters"] = LoraParameters,
            ["tokens_per_step"] = s.TokensPerStep,
            ["tokens_per_second"] = R(TokensPerSecond, 1),
            ["ms_per_step_median"] = R(MedianMs, 2),
            ["ms_per_step_min"] = R(MinMs, 2),
            ["step_ms"] = new JsonArray(StepMs.Select(x => R(x, 2)).ToArray()),
            ["peak_rss_bytes"] = PeakRssBytes,
            ["model_flops_per_step"] = Flops.Total,
            ["model_flops_forward"] = Flops.Forward,
            ["model_flops_backward"] = Flops.Backward,
            ["achieved_gflops"] = R(AchievedGflops, 2),
            ["sgemm_peak_gflops"] = R(SgemmGflops, 2),
            ["mfu"] = R(Mfu, 4),
            ["loss"] = R(Loss, 4),
            ["base_weights_dtype"] = BaseWeightsDtype,
        };
    }

    public static TrainBenchShapeResult FromJson(JsonObject j)
    {
        var s = j["shape"]!;
        int I(JsonNode n, string k) => n[k]!.GetValue<int>();
        var shape = new TrainBenchShape(
            j["name"]!.GetValue<string>(),
            I(s, "vocab"),
            I(s, "hidden"),
            I(s, "layers"),
            I(s, "heads"),
            I(s, "kv_heads"),
            I(s, "intermediate"),
            I(s, "seq"),
            I(s, "batch"),
            I(j, "threads")
        );
        return new TrainBenchShapeResult
        {
            Shape = shape,
            Warmup = I(j, "warmup"),
            StepMs = j["step_ms"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray(),
            PeakRssBytes = j["peak_rss_bytes"]!.GetValue<long>(),
            Flops = TrainFlops.Of(shape, TrainBench.Rank),
            SgemmGflops = j["sgemm_peak_gflops"]!.GetValue<double>(),
            Parameters = j["parameters"]!.GetValue<long>(),
            LoraParameters = j["lora_parameters"]!.GetValue<long>(),
            TorchThreads = I(j, "torch_threads"),
            Loss = j["loss"]!.GetValue<double>(),
            BaseWeightsDtype = j["base_weights_dtype"]?.GetValue<string>() ?? "float32",
        };
    }
}
