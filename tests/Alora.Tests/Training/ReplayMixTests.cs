using Alora.Data;
using Alora.Lora;
using Alora.Recipes;
using Alora.Training;
using static TorchSharp.torch;

namespace Alora.Tests.Training;

/// <summary>
/// Replay's batches (<see cref="BatchSchedule"/>): k = round(rho * B) general and B - k domain sequences per step, a pure
/// function of (seed, step); every domain sequence once per epoch, the general ones in whole permutations; k = 0 the
/// batches of plain training, so Replay(0) is LoRA(μ) bit for bit.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class ReplayMixTests
{
    // halves round away from zero: 2.5 -> 3, 0.5 -> 1, 1.5 -> 2 (banker's rounding would give 2, 0, 2)
    [Theory]
    [InlineData(0.25, 20, 5)]
    [InlineData(0.1, 4, 0)]
    [InlineData(0.25, 10, 3)]
    [InlineData(0.125, 4, 1)]
    [InlineData(0.375, 4, 2)]
    [InlineData(0.5, 4, 2)]
    [InlineData(0.0, 20, 0)]
    [InlineData(0.9, 20, 18)]
    public void KIsRhoTimesBRoundedWithHalvesAwayFromZero(double rho, int b, int k)
    {
        Assert.Equal(k, BatchSchedule.ReplayCount(rho, b));
        var o = new FinetuneOptions
        {
            Method = FinetuneMethod.Replay,
            ReplayFraction = rho,
            BatchSize = b,
        };
        Assert.Equal(k, o.ToTrainConfig().ReplayPerStep);
        // the other methods never replay, whatever --replay-fraction says
        Assert.Equal(0, (o with { Method = FinetuneMethod.Lora }).ToTrainConfig().ReplayPerStep);
    }

    [Theory]
    [InlineData(0.25, 20, 5)]
    [InlineData(0.1, 4, 0)]
    [InlineData(0.25, 10, 3)]
    [InlineData(0.5, 4, 2)]
    [InlineData(0.75, 4, 3)]
    public void EveryStepHasExactlyKGeneralAndBMinusKDomainSequences(double rho, int b, int k)
    {
        int perStep = b - k,
            domain = perStep * 5,
            general = 7;
        var s = new BatchSchedule(domain, general, b, BatchSchedule.ReplayCount(rho, b), seed: 3);
        Assert.Equal((k, perStep, 5L), (s.ReplayPerStep, s.DomainPerStep, s.StepsPerEpoch));
        for (long t = 0; t < 3 * s.StepsPerEpoch; t++)
        {
            var (d, g) = s.At(t);
            Assert.Equal(perStep, d.Length);
            Assert.Equal(k, g.Length);
            Assert.All(d, i => Assert.InRange(i, 0, domain - 1));
            Assert.All(g, i => Assert.InRange(i, 0, general - 1));
            var indices = s.Indices(t);
            Assert.Equal(b, indices.Length);
            Assert.Equal(k, indices.Count(i => i >= domain)); // general sequences follow the domain data in the trainer's list
        }
    }

    [Fact]
    public void EpochsCountTheDomainDataAndTheLastStepOfAnEpochTakesWhatIsLeft()
    {
        // 10 domain sequences, B = 4, k = 1: 3 domain per step, ceil(10 / 3) = 4 steps, the fourth with 1 domain sequence
        var s = new BatchSchedule(10, 5, 4, 1, seed: 8);
        Assert.Equal(4, s.StepsPerEpoch);
        Assert.Equal([3, 3, 3, 1], Enumerable.Range(0, 4).Select(t => s.At(t).Domain.Length));
        Assert.All(Enumerable.Range(0, 8), t => Assert.Single(s.At(t).General));
    }

    [Fact]
    public void TheSameSeedGivesTheSameBatchesAndAnotherSeedOthers()
    {
        var a = new BatchSchedule(30, 11, 8, 2, seed: 5);
        var b = new BatchSchedule(30, 11, 8, 2, seed: 5);
        var c = new BatchSchedule(30, 11, 8, 2, seed: 6);
        var steps = Enumerable.Range(0, 20).Select(t => (long)t).ToList();
        Assert.Equal(steps.Select(t => a.Indices(t)), steps.Select(t => b.Indices(t)));
        Assert.NotEqual(steps.Select(t => a.At(t).Domain), steps.Select(t => c.At(t).Domain));
        Assert.NotEqual(steps.Select(t => a.At(t).General), steps.Select(t => c.At(t).General));
    }

    [Fact]
    public void AStepsBatchDependsOnlyOnTheStep_SoAResumedRunSeesTheSameBatches()
    {
        var fresh = new BatchSchedule(30, 11, 8, 3, seed: 5);
        var expected = Enumerable.Range(0, 25).Select(t => fresh.Indices(t)).ToList();
        // a run resumed at step 13 asks a new schedule for steps 13.. only, and in any order
        var resumed = new BatchSchedule(30, 11, 8, 3, seed: 5);
        for (int t = 24; t >= 13; t--)
            Assert.Equal(expected[t], resumed.Indices(t));
    }

    [Fact]
    public void EveryDomainSequenceOncePerEpoch_TheGeneralOnesInWholePermutations()
    {
        int domain = 23,
            general = 9,
            k = 2;
        var s = new BatchSchedule(domain, general, 6, k, seed: 12);
        for (long epoch = 0; epoch < 3; epoch++)
        {
            var seen = Enumerable.Range(0, (int)s.StepsPerEpoch).SelectMany(i => s.At(epoch * s.StepsPerEpoch + i).Domain).ToList();
            Assert.Equal(Enumerable.Range(0, domain), seen.Order());
        }
        // the general stream: step t holds positions t*k .. t*k+k-1; each pass of 9 positions is a permutation, a new one each pass
        var stream = Enumerable.Range(0, 27).SelectMany(t => s.At(t).General).ToList();
        var passes = stream.Chunk(general).ToList();
        Assert.Equal(6, passes.Count);
        Assert.All(passes, p => Assert.Equal(Enumerable.Range(0, general), p.Order()));
        Assert.True(passes.Distinct(new SequenceComparer()).Count() > 1, "every pass has the same order");
        Assert.Equal(BatchSchedule.Permutation(general, BatchSchedule.GeneralSeed(12), 0), passes[0]);
        // the general order is not the domain order: with equal sizes the first permutations differ
        Assert.NotEqual(BatchSchedule.Permutation(general, 12, 0), passes[0]);
    }

    [Fact]
    public void WithoutReplayTheBatchesAreThoseOfPlainTraining()
    {
        // the order before replay existed: one permutation per epoch, cut into batches of B
        static int[] Plain(int n, int b, long seed, long step)
        {
            long perEpoch = (n + b - 1) / b;
            var perm = BatchSchedule.Permutation(n, seed, step / perEpoch);
            int start = (int)(step % perEpoch * b);
            return perm[start..Math.Min(start + b, n)];
        }
        var s = new BatchSchedule(22, 0, 4, 0, seed: 42);
        Assert.Equal(6, s.StepsPerEpoch);
        for (long t = 0; t < 20; t++)
            Assert.Equal(Plain(22, 4, 42, t), s.Indices(t));
        // general data given but k = 0: not used
        Assert.Equal(s.Indices(7), new BatchSchedule(22, 9, 4, 0, seed: 42).Indices(7));
    }

    [Fact]
    public void ReplayOfZeroIsLoraMuBitForBit()
    {
        using var tmp = new TempDir();
        var model = TinyModels.SaveLlama(tmp.File("model"));
        var data = TinyModels.WriteIdsJsonl(tmp.File("domain.jsonl"), 12, 16);
        var general = TinyModels.WriteIdsJsonl(tmp.File("general.jsonl"), 10, 16, seed: 9);
        FinetuneOptions Options(FinetuneMethod method, double rho, string run) =>
            new()
            {
                Model = model,
                Data = data,
                GeneralData = method == FinetuneMethod.Replay ? general : null,
                Out = tmp.File(run),
                Method = method,
                ReplayFraction = rho,
                BatchSize = 4,
                MicroBatchSize = 2,
                MaxSteps = 6,
                MaxLength = 16,
                Lr = 1e-2,
                Dropout = 0.1,
                Seed = 4,
            };
        var lora = FinetuneRecipe.Run(Options(FinetuneMethod.Lora, 0.25, "lora")).History;
        var replay0 = FinetuneRecipe.Run(Options(FinetuneMethod.Replay, 0, "replay0")).History;
        Assert.Equal(6, lora.Count);
        Assert.Equal(lora.Select(m => (m.Loss, m.TaskLoss, m.GradNorm, m.Tokens)), replay0.Select(m => (m.Loss, m.TaskLoss, m.GradNorm, m.Tokens)));
        // and with rho > 0 the batches, so the losses, are others
        var replay = FinetuneRecipe.Run(Options(FinetuneMethod.Replay, 0.5, "replay")).History;
        Assert.NotEqual(lora.Select(m => m.TaskLoss), replay.Select(m => m.TaskLoss));
    }

    /// <summary>
    /// The replay loss weighs each part by its share of the batch's sequences, each part the mean over its own targets:
    /// L = (n_d/B) mean_d + (k/B) mean_g. Checked against the per-token cross-entropy of each sequence scored alone by
    /// the untouched model (log-softmax by hand), at the first step, where the loss is the initial weights'. Domain
    /// answers carry 3 targets and general sequences 15, so one mean over all tokens would give another number.
    /// </summary>
    [Fact]
    public void TheReplayLossIsEachPartsMeanWeightedByItsShareOfTheBatch()
    {
        var domain = TinyModels.PatternData(12, 16).Select(e => e with { Targets = e.Targets.Select((_, j) => j >= 13).ToArray() }).ToList();
        var general = TinyModels.PatternData(6, 16, seed: 21);
        var cfg = new TrainConfig
        {
            Lr = 1e-2,
            MaxSteps = 1,
            BatchSize = 4,
            MicroBatchSize = 3,
            ReplayPerStep = 1,
            MaxLength = 16,
            Seed = 11,
        };
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 16 });
        var (d, g) = new BatchSchedule(domain.Count, general.Count, 4, 1, cfg.Seed).At(0);
        double MeanCe(IEnumerable<TrainingExample> seqs)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            double sum = 0;
            long n = 0;
            foreach (var ex in seqs)
            {
                var logp = model.forward(tensor(ex.Ids.Select(i => (long)i).ToArray(), [1, ex.Ids.Length])).log_softmax(-1); // [1,T,V]
                for (int j = 1; j < ex.Ids.Length; j++)
                    if (ex.Targets[j])
                    {
                        sum -= logp[0, j - 1, ex.Ids[j]].item<float>();
                        n++;
                    }
            }
            return sum / n;
        }
        double expected = 3.0 / 4 * MeanCe(d.Select(i => domain[i])) + 1.0 / 4 * MeanCe(g.Select(i => general[i]));
        double tokenMean = (MeanCe(d.Select(i => domain[i])) * 9 + MeanCe(g.Select(i => general[i])) * 15) / 24;
        using var trainer = new Trainer(model, adapters, domain, cfg, replay: general);
        double loss = trainer.Train().Single().TaskLoss;
        Assert.True(Math.Abs(loss - expected) < 1e-5, $"loss {loss}, expected {expected}"); // float32 sums over 24 targets
        Assert.True(Math.Abs(loss - tokenMean) > 1e-3, $"the token mean {tokenMean} is as close as the weighted one");
    }

    [Fact]
    public void AReplayRunKilledAndResumedEqualsAnUninterruptedOne()
    {
        var lora = new LoraConfig
        {
            R = 4,
            Alpha = 16,
            Dropout = 0.1,
        };
        var data = TinyModels.PatternData(18, 16);
        var general = TinyModels.PatternData(7, 16, seed: 21);
        var cfg = new TrainConfig
        {
            Lr = 1e-2,
            MaxSteps = 8,
            BatchSize = 4,
            MicroBatchSize = 3,
            ReplayPerStep = 1,
            MaxLength = 16,
            Seed = 11,
            CheckpointEvery = 2,
        };
        using var full = new TempDir();
        using var parted = new TempDir();

        (float[][] Weights, double[] Losses) Run(string dir, long? stopAfter, bool resume)
        {
            using var model = TinyModels.Llama();
            random.manual_seed(99);
            var adapters = LoraInjector.Inject(model, lora);
            using var trainer = new Trainer(model, adapters, data, cfg, dir, replay: general);
            Assert.Equal(6, trainer.StepsPerEpoch); // ceil(18 / 3)
            if (resume)
                Assert.True(trainer.TryResume());
            var history = trainer.Train(stopAfter: stopAfter);
            var weights = adapters.SelectMany(a => new[] { a.Layer.lora_A.weight, a.Layer.lora_B.weight }).Select(t => t.data<float>().ToArray());
            return (weights.ToArray(), history.Select(m => m.TaskLoss).ToArray());
        }

        var expected = Run(full.Path, null, false);
        Run(parted.Path, 5, false);
        var resumed = Run(parted.Path, null, true);
        Assert.Equal(expected.Losses[4..], resumed.Losses); // steps 5..8 after the checkpoint of step 4
        for (int i = 0; i < expected.Weights.Length; i++)
        for (int j = 0; j < expected.Weights[i].Length; j++)
            Assert.True(Math.Abs(expected.Weights[i][j] - resumed.Weights[i][j]) <= 1e-6, $"tensor {i} element {j}");
    }

    sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? x, int[]? y) => x is not null && y is not null && x.SequenceEqual(y);

        public int GetHashCode(int[] obj) => obj.Aggregate(17, (h, v) => h * 31 + v);
    }
}
