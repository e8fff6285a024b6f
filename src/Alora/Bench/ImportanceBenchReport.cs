using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Alora.Bench;

/// <summary>The bench's outputs: the JSON file the CLI writes (<see cref="ToJson"/>) and the summary it prints (<see cref="ToTable"/>).</summary>
public sealed partial record ImportanceBenchResult
{
    public JsonObject ToJson()
    {
        var o = Options;
        static JsonNode R(double v, int digits = 4) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, digits))! : JsonValue.Create("NaN")!;
        var targets = new JsonObject();
        foreach (var (k, v, limit, atMost, met) in Targets())
            targets[k] = new JsonObject
            {
                ["value"] = R(v),
                [atMost ? "at_most" : "at_least"] = limit,
                ["met"] = met,
            };
        return new JsonObject
        {
            ["benchmark"] = "importance",
            ["date"] = Date.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["shape"] = new JsonObject
            {
                ["vocab"] = o.Vocab,
                ["hidden"] = o.Hidden,
                ["layers"] = o.Layers,
                ["heads"] = o.Heads,
                ["kv_heads"] = o.KvHeads,
                ["intermediate"] = o.Intermediate,
                ["seq"] = o.Seq,
                ["batch"] = o.Batch,
                ["rank"] = o.Rank,
                ["alpha"] = o.Alpha,
                ["targets"] = new JsonArray("q_proj", "v_proj"),
                ["optimizer"] = "adamw",
                ["model_parameters"] = ModelParameters,
                ["adapted_modules"] = AdaptedModules,
                ["omega_elements"] = OmegaElements,
            },
            ["rounds"] = o.Rounds,
            ["steps_per_round"] = o.StepsPerRound,
            ["warmup_steps"] = o.WarmupSteps,
            ["hook_repeats"] = o.HookRepeats,
            ["fisher_samples"] = o.FisherSamples,
            ["torch_threads"] = TorchThreads,
            ["machine"] = new JsonObject
            {
                ["processor_count"] = ProcessorCount,
                ["os"] = RuntimeInformation.OSDescription,
                ["framework"] = RuntimeInformation.FrameworkDescription,
                ["omp_num_threads"] = Environment.GetEnvironmentVariable("OMP_NUM_THREADS"),
                ["omp_wait_policy"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
                ["load_average_start"] = new JsonArray(LoadAverageStart.Select(x => (JsonNode)x).ToArray()),
                ["load_average_end"] = new JsonArray(LoadAverageEnd.Select(x => (JsonNode)x).ToArray()),
            },
            ["lora_tokens_per_second"] = R(LoraTokensPerSecond, 1),
            ["step_ms"] = new JsonObject
            {
                ["lora"] = R(LoraStepMs, 2),
                ["si"] = R(SiStepMs, 2),
                ["si_exact"] = R(SiExactStepMs, 2),
                ["reg"] = R(RegStepMs, 2),
            },
            ["si_step_ratio"] = R(SiStepRatio),
            ["si_exact_step_ratio"] = R(SiExactStepRatio),
            ["reg_step_ratio"] = R(RegStepRatio),
            ["si_ms_per_step"] = R(SiMsPerStep, 3),
            ["si_exact_ms_per_step"] = R(SiExactMsPerStep, 3),
            ["reg_ms_per_step"] = R(RegMsPerStep, 3),
            ["si_overhead_fraction"] = R(SiOverheadFraction, 5),
            ["si_exact_overhead_fraction"] = R(SiExactOverheadFraction, 5),
            ["reg_overhead_fraction"] = R(RegOverheadFraction, 5),
            ["fisher_implementation"] = FisherImplementation,
            ["fisher_ms_per_sample"] = R(FisherMsPerSample, 2),
            ["fisher_seconds"] = R(FisherSeconds, 3),
            ["si_seconds_for_fisher_samples"] = R(SiSecondsForFisherSamples, 5),
            ["fisher_over_si_overhead"] = R(FisherOverSiOverhead, 1),
            ["omega_bytes_fp32"] = OmegaBytesFp32,
            ["omega_bytes_fp16"] = OmegaBytesFp16,
            ["full_fisher_bytes_fp32"] = FullFisherBytesFp32,
            ["omega_over_full_fisher_bytes_fp32"] = R(OmegaOverFullFisherBytesFp32, 5),
            ["omega_over_full_fisher_bytes_fp16"] = R(OmegaOverFullFisherBytesFp16, 5),
            ["targets"] = targets,
            ["per_round"] = new JsonArray(
                PerRound
                    .Select(r =>
                        (JsonNode)
                            new JsonObject
                            {
                                ["lora_step_ms"] = R(r.LoraStepMs, 2),
                                ["si_step_ms"] = R(r.SiStepMs, 2),
                                ["si_exact_step_ms"] = R(r.SiExactStepMs, 2),
                                ["reg_step_ms"] = R(r.RegStepMs, 2),
                                ["si_hook_ms"] = R(r.SiHookMs, 3),
                                ["si_exact_hook_ms"] = R(r.SiExactHookMs, 3),
                                ["reg_hook_ms"] = R(r.RegHookMs, 3),
                                ["fisher_samples"] = r.FisherSamples,
                                ["fisher_ms_per_sample"] = R(r.FisherMsPerSample, 2),
                            }
                    )
                    .ToArray()
            ),
            ["per_turn_step_ms"] = new JsonObject
            {
                ["lora"] = new JsonArray(Turns.Select(t => R(t.LoraMs, 1)).ToArray()),
                ["si"] = new JsonArray(Turns.Select(t => R(t.SiMs, 1)).ToArray()),
                ["si_exact"] = new JsonArray(Turns.Select(t => R(t.SiExactMs, 1)).ToArray()),
                ["reg"] = new JsonArray(Turns.Select(t => R(t.RegMs, 1)).ToArray()),
            },
            ["wall_seconds"] = R(WallSeconds, 1),
        };
    }

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    /// <summary>A readable summary for the terminal.</summary>
    public string ToTable()
    {
        var o = Options;
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(
            c,
            $"importance bench: vocab {o.Vocab}, hidden {o.Hidden}, {o.Layers} layers, {o.Heads} heads / {o.KvHeads} kv, intermediate {o.Intermediate}, "
                + $"seq {o.Seq}, batch {o.Batch}, r {o.Rank}, alpha {o.Alpha}, q_proj+v_proj, AdamW; {ModelParameters:N0} parameters"
        );
        sb.AppendLine(
            c,
            $"{o.Rounds} interleaved rounds x {o.StepsPerRound} steps (+{o.WarmupSteps} warm-up), torch threads {TorchThreads}, "
                + $"{ProcessorCount} processors, load {string.Join(" ", LoadAverageStart.Select(x => x.ToString("F2", c)))} -> "
                + $"{string.Join(" ", LoadAverageEnd.Select(x => x.ToString("F2", c)))}, {WallSeconds:F0} s"
        );
        sb.AppendLine();
        sb.AppendLine(c, $"{"configuration", -26} {"ms/step", 10} {"x LoRA", 8} {"hook ms/step", 13} {"hook/step", 10}");
        sb.AppendLine(c, $"{"LoRA", -26} {LoraStepMs, 10:F1} {1.0, 8:F3}");
        sb.AppendLine(c, $"{"LoRA + SI (paper)", -26} {SiStepMs, 10:F1} {SiStepRatio, 8:F3} {SiMsPerStep, 13:F3} {SiOverheadFraction, 10:P2}");
        sb.AppendLine(
            c,
            $"{"LoRA + SI (exact)", -26} {SiExactStepMs, 10:F1} {SiExactStepRatio, 8:F3} {SiExactMsPerStep, 13:F3} {SiExactOverheadFraction, 10:P2}"
        );
        sb.AppendLine(c, $"{"LoRA + ALoRA penalty", -26} {RegStepMs, 10:F1} {RegStepRatio, 8:F3} {RegMsPerStep, 13:F3} {RegOverheadFraction, 10:P2}");
        sb.AppendLine("(ms/step and x LoRA: medians over turns of whole training steps; hook: the hook's own calls timed alone, the exact");
        sb.AppendLine(" variant's extra backward GEMM for dL/dW is in its step time only)");
        sb.AppendLine(c, $"LoRA throughput: {LoraTokensPerSecond:F0} tokens/s");
        sb.AppendLine(
            c,
            $"Fisher ({FisherImplementation}): {FisherMsPerSample:F1} ms/sample, {FisherSeconds:F2} s for {o.FisherSamples} samples; "
                + $"SI recording over the same samples: {SiSecondsForFisherSamples * 1000:F2} ms"
        );
        sb.AppendLine(
            c,
            $"Omega {OmegaBytesFp32:N0} B (fp32) / {OmegaBytesFp16:N0} B (fp16); full diagonal Fisher {FullFisherBytesFp32:N0} B (fp32)"
        );
        sb.AppendLine();
        sb.AppendLine("targets:");
        foreach (var (k, v, limit, atMost, met) in Targets())
            sb.AppendLine(c, $"  {k, -36} {v, 10:G4}  {(atMost ? "<=" : ">=")} {limit, -6:G4} {(met ? "met" : "MISSED")}");
        return sb.ToString();
    }
}
