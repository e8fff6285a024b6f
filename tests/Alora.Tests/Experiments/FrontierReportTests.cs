using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>The report's trade-off frontier from hand-made results: the matched-accuracy table's values are computed by hand.</summary>
public sealed class FrontierReportTests
{
    static ResultRow Row(string method, long seed, double ppl, double acc, double? strength = null, string? sweep = null) =>
        new()
        {
            Method = method,
            Seed = seed,
            Task = "t",
            GeneralPpl = ppl,
            Acc = acc,
            AccNorm = acc,
            Strength = strength,
            Sweep = sweep,
            SweepValue = sweep is null ? null : strength,
            Run = $"{method}-s{seed}-{strength}",
        };

    static IReadOnlyList<ResultRow> Rows()
    {
        var rows = new List<ResultRow>();
        foreach (var s in new long[] { 1, 2 })
        {
            rows.Add(Row("base", s, 5.0, 0.20));
            rows.Add(Row("lora-mu", s, 9.0, 0.90));
        }
        // (strength, seed 1 (ppl, acc), seed 2 (ppl, acc)); the configured strength (alora 10, ewc-lora 1) is also the main row
        (double, (double, double), (double, double))[] alora =
        [
            (1, (8.0, 0.92), (8.2, 0.90)),
            (10, (7.0, 0.86), (7.2, 0.84)),
            (100, (6.0, 0.70), (6.2, 0.72)),
        ];
        (double, (double, double), (double, double))[] ewc = [(1, (8.5, 0.93), (8.7, 0.91)), (10, (7.5, 0.80), (7.7, 0.82))];
        foreach (var (m, points, configured) in new[] { ("alora", alora, 10.0), ("ewc-lora", ewc, 1.0) })
        foreach (var (k, s1, s2) in points)
        foreach (var (seed, (ppl, acc)) in new[] { (1L, s1), (2L, s2) })
        {
            rows.Add(Row(m, seed, ppl, acc, k, "strength"));
            if (k == configured)
                rows.Add(Row(m, seed, ppl, acc, k));
        }
        return rows;
    }

    [Fact]
    public void TheMatchedAccuracyTableReadsEachCurveAtTheTargets()
    {
        using var tmp = new TempDir();
        var report = ExperimentReport.Write(tmp.Path, new ExperimentConfig { Methods = ["base", "lora-mu", "ewc-lora", "alora"] }, Rows());
        var md = File.ReadAllText(report);
        Assert.Contains("## Trade-off frontier", md, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(tmp.Path, "figures", "frontier-t.png")));
        // targets: LoRA(mu) 0.90 - 1 point = 0.89; 90 % of its gain over Base 0.20 + 0.9 * 0.70 = 0.83
        Assert.Contains("PPL at acc 89.0 %", md, StringComparison.Ordinal);
        Assert.Contains("PPL at acc 83.0 %", md, StringComparison.Ordinal);
        var ours = Line(md, "| Ours");
        // mean curve (8.1, 0.91) (7.1, 0.85) (6.1, 0.71): 8.1 - 0.02/0.06 = 7.767; 7.1 - 0.02/0.14 = 6.957
        Assert.Contains("7.767", ours, StringComparison.Ordinal);
        Assert.Contains("6.957", ours, StringComparison.Ordinal);
        var ewcLine = Line(md, "| EWC-LoRA");
        // mean curve (8.6, 0.92) (7.6, 0.81): 8.6 - 0.03/0.11 = 8.327; 8.6 - 0.09/0.11 = 7.782
        Assert.Contains("8.327", ewcLine, StringComparison.Ordinal);
        Assert.Contains("7.782", ewcLine, StringComparison.Ordinal);
        // per seed at 0.89: Ours 7.5 and 8.0333, EWC 8.19231 and 8.47778; d = -0.69231, -0.44444: mean -0.568,
        // t = mean / (sd / sqrt 2) = -4.59, df 1: p = 1 - (2/pi) atan(4.586) = 0.137
        Assert.Contains("-0.568 (t -4.59, p 0.137, 2)", ewcLine, StringComparison.Ordinal);
        // at 0.83 every seed's curve of both methods reaches it too, so there is a second test
        Assert.Equal(2, ewcLine.Split("(t ").Length - 1);
    }

    [Fact]
    public void AnotherLayerWeightingIsACurveOfItsOwnComparedWithOurs()
    {
        using var tmp = new TempDir();
        var rows = Rows().ToList();
        // Ours with uniform weights: the same accuracies, perplexities 0.5 higher at every point and seed
        foreach (var r in rows.Where(r => r.Method == "alora" && r.Sweep == "strength").ToList())
            rows.Add(r with { Sweep = "layer-weights", LayerWeights = "uniform", GeneralPpl = r.GeneralPpl + 0.5, Run = r.Run + "-u" });
        var md = File.ReadAllText(
            ExperimentReport.Write(tmp.Path, new ExperimentConfig { Methods = ["base", "lora-mu", "ewc-lora", "alora"] }, rows)
        );
        var line = Line(md, "| Ours (uniform)");
        // 7.767 + 0.5 and 6.957 + 0.5; per seed every difference is -0.5 (up to rounding, so t is huge and negative)
        Assert.Contains("8.267", line, StringComparison.Ordinal);
        Assert.Contains("7.457", line, StringComparison.Ordinal);
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Count(line, @"-0\.500 \(t -[^,]+, p [^,]+, 2\)"));
        Assert.DoesNotContain("### layer-weights", md, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutStrengthsThereIsNoFrontier()
    {
        using var tmp = new TempDir();
        var rows = Rows().Where(r => r.Sweep is null).ToList();
        var md = File.ReadAllText(
            ExperimentReport.Write(tmp.Path, new ExperimentConfig { Methods = ["base", "lora-mu", "ewc-lora", "alora"] }, rows)
        );
        Assert.DoesNotContain("Trade-off frontier", md, StringComparison.Ordinal);
    }

    /// <summary>The line of the frontier section that starts with <paramref name="start"/>.</summary>
    static string Line(string md, string start)
    {
        var section = md[md.IndexOf("## Trade-off frontier", StringComparison.Ordinal)..];
        var end = section.IndexOf("\n## ", 3, StringComparison.Ordinal);
        return (end < 0 ? section : section[..end]).Split('\n').Single(l => l.StartsWith(start, StringComparison.Ordinal));
    }
}
