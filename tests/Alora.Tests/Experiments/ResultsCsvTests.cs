using Alora.Experiments;

namespace Alora.Tests.Experiments;

/// <summary>results.csv keeps replay's rho in its own column, and a file written before that column still reads.</summary>
public sealed class ResultsCsvTests
{
    [Fact]
    public void ReplayFractionIsAColumnThatRoundTrips_AndAnOlderFileWithoutItReads()
    {
        using var tmp = new TempDir();
        var path = tmp.File("results.csv");
        ResultRow[] rows =
        [
            new()
            {
                Method = "replay",
                Seed = 1,
                Task = "quiz",
                GeneralPpl = 12.5,
                Acc = 0.5,
                AccNorm = 0.25,
                ReplayFraction = 0.25,
                Run = "replay-quiz-s1",
            },
            new()
            {
                Method = "ewc-lora",
                Seed = 1,
                Task = "quiz",
                EwcLambda = 10,
                Run = "ewc-lora-quiz-s1",
            },
        ];
        ResultsCsvFile.Write(path, rows, []);
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        int col = Array.IndexOf(header, "replay_fraction");
        Assert.Equal(Array.IndexOf(header, "ewc_lambda") + 1, col);
        Assert.Equal("0.25", lines[1].Split(',')[col]);
        Assert.Equal("", lines[2].Split(',')[col]);
        var read = ResultsCsvFile.Read(path);
        Assert.Equal([0.25, null], read.Select(r => r.ReplayFraction));

        // a results.csv from before the column: every other value as it was, no replay fraction
        var old = tmp.File("old.csv");
        File.WriteAllLines(old, lines.Select(l => string.Join(',', l.Split(',').Where((_, i) => i != col))));
        var before = ResultsCsvFile.Read(old);
        Assert.Equal(read.Select(r => r with { ReplayFraction = null, Probes = null! }), before.Select(r => r with { Probes = null! }));
    }
}
