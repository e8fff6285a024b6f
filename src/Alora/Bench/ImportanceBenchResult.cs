namespace Alora.Bench;

/// <summary>One step of each configuration, taken one after the other (milliseconds).</summary>
public sealed record ImportanceBenchTurn(double LoraMs, double SiMs, double SiExactMs, double RegMs);

/// <summary>One round's measurements (milliseconds; step times are the means of the round's turns).</summary>
public sealed record ImportanceBenchRound(
    double LoraStepMs,
    double SiStepMs,
    double SiExactStepMs,
    double RegStepMs,
    double SiHookMs,
    double SiExactHookMs,
    double RegHookMs,
    int FisherSamples,
    double FisherMsPerSample
);

/// <summary>What <see cref="ImportanceBench.Run"/> measured; <see cref="ToJson"/> is the file the CLI writes.</summary>
public sealed partial record ImportanceBenchResult
{
    public required ImportanceBenchOptions Options { get; init; }
    public required IReadOnlyList<ImportanceBenchRound> PerRound { get; init; }
    public required IReadOnlyList<ImportanceBenchTurn> Turns { get; init; }
    public required long ModelParameters { get; init; }
    public required int AdaptedModules { get; init; }
    public required long OmegaElements { get; init; }
    public required int TorchThreads { get; init; }
    public required int ProcessorCount { get; init; }
    public required double[] LoadAverageStart { get; init; }
    public required double[] LoadAverageEnd { get; init; }
    public required DateTimeOffset Date { get; init; }
    public required double WallSeconds { get; init; }
    public required string FisherImplementation { get; init; }

    static double Median(IEnumerable<double> xs)
    {
        var s = xs.Where(double.IsFinite).Order().ToArray();
        if (s.Length == 0)
            return double.NaN;
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    public double LoraStepMs => Median(Turns.Select(t => t.LoraMs));
    public double SiStepMs => Median(Turns.Select(t => t.SiMs));
    public double SiExactStepMs => Median(Turns.Select(t => t.SiExactMs));
    public double RegStepMs => Median(Turns.Select(t => t.RegMs));
    public double LoraTokensPerSecond => (double)Options.Batch * Options.Seq / (LoraStepMs / 1000);

    /// <summary>Median over turns of the step time over the plain LoRA step of the same turn, so drift in load cancels.</summary>
    public double SiStepRatio => Median(Turns.Select(t => t.SiMs / t.LoraMs));
    public double SiExactStepRatio => Median(Turns.Select(t => t.SiExactMs / t.LoraMs));
    public double RegStepRatio => Median(Turns.Select(t => t.RegMs / t.LoraMs));

    /// <summary>The hook's own time over the plain LoRA step: the overhead without the step-to-step noise.</summary>
    public double SiOverheadFraction => SiMsPerStep / LoraStepMs;
    public double SiExactOverheadFraction => SiExactMsPerStep / LoraStepMs;
    public double RegOverheadFraction => RegMsPerStep / LoraStepMs;
    public double SiMsPerStep => Median(PerRound.Select(r => r.SiHookMs));
    public double SiExactMsPerStep => Median(PerRound.Select(r => r.SiExactHookMs));
    public double RegMsPerStep => Median(PerRound.Select(r => r.RegHookMs));
    public double FisherMsPerSample => Median(PerRound.Where(r => r.FisherSamples > 0).Select(r => r.FisherMsPerSample));

    /// <summary>A Fisher pass over N samples: the median time per sample times N.</summary>
    public double FisherSeconds => FisherMsPerSample * Options.FisherSamples / 1000;

    /// <summary>What recording adds while training on the same N samples: si_ms_per_step * N / batch.</summary>
    public double SiSecondsForFisherSamples => SiMsPerStep * Options.FisherSamples / Options.Batch / 1000;
    public double FisherOverSiOverhead => FisherSeconds / SiSecondsForFisherSamples;
    public long OmegaBytesFp32 => OmegaElements * 4;
    public long OmegaBytesFp16 => OmegaElements * 2;

    /// <summary>A diagonal Fisher of every parameter of the base model, in float32.</summary>
    public long FullFisherBytesFp32 => ModelParameters * 4;
    public double OmegaOverFullFisherBytesFp32 => (double)OmegaBytesFp32 / FullFisherBytesFp32;
    public double OmegaOverFullFisherBytesFp16 => (double)OmegaBytesFp16 / FullFisherBytesFp32;

    /// <summary>The cost targets the bench checks: (key, value, limit, at most?, met).</summary>
    public IReadOnlyList<(string Key, double Value, double Limit, bool AtMost, bool Met)> Targets()
    {
        (string, double, double, bool, bool) T(string k, double v, double limit, bool atMost) =>
            (k, v, limit, atMost, atMost ? v <= limit : v >= limit);
        return
        [
            T("si_step_ratio", SiStepRatio, 1.05, true),
            T("reg_step_ratio", RegStepRatio, 1.05, true),
            T("fisher_over_si_overhead", FisherOverSiOverhead, 100, false),
            T("omega_over_full_fisher_bytes_fp32", OmegaOverFullFisherBytesFp32, 0.15, true),
            T("omega_over_full_fisher_bytes_fp16", OmegaOverFullFisherBytesFp16, 0.075, true),
        ];
    }
}
