using Alora.Data;
using Alora.IO;
using Alora.Lora;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Tests.Training;

[Collection(TorchRngCollection.Name)]
public class TrainerTests
{
    static TrainConfig Config(int steps, int checkpointEvery = 0) =>
        new()
        {
            Lr = 1e-2,
            MaxSteps = steps,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 16,
            Seed = 11,
            CheckpointEvery = checkpointEvery,
            WarmupSteps = 2,
            Schedule = LrSchedule.Cosine,
        };

    [Fact]
    public void TrainingLowersTheLoss()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 4, Alpha = 16 });
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(32, 16), Config(30));
        var history = trainer.Train();
        Assert.Equal(30, history.Count);
        double first = history.Take(3).Average(m => m.TaskLoss),
            last = history.TakeLast(3).Average(m => m.TaskLoss);
        Assert.True(last < 0.9 * first, $"loss {first:F3} -> {last:F3}");
    }

    /// <summary>
    /// Trains the tiny Llama's LoRA adapter (r 4, dropout 0.1) for 8 steps in <paramref name="dir"/>, resuming its
    /// latest checkpoint when asked, through <paramref name="train"/>; returns the adapter's A and B weights.
    /// </summary>
    static float[][] TrainAdapter(string dir, int checkpointEvery, bool resume, Action<Trainer> train)
    {
        var lora = new LoraConfig
        {
            R = 4,
            Alpha = 16,
            Dropout = 0.1,
        };
        using var model = TinyModels.Llama();
        random.manual_seed(99);
        var adapters = LoraInjector.Inject(model, lora);
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(24, 16), Config(8, checkpointEvery), dir);
        if (resume)
            Assert.True(trainer.TryResume());
        train(trainer);
        return adapters.SelectMany(a => new[] { a.Layer.lora_A.weight, a.Layer.lora_B.weight }).Select(t => t.data<float>().ToArray()).ToArray();
    }

    static void AssertSameAdapter(float[][] expected, float[][] actual)
    {
        for (int i = 0; i < expected.Length; i++)
        for (int j = 0; j < expected[i].Length; j++)
            Assert.True(Math.Abs(expected[i][j] - actual[i][j]) <= 1e-6, $"tensor {i} element {j}: {expected[i][j]} vs {actual[i][j]}");
    }

    // A run stopped after step 5 (last checkpoint at step 4) and resumed ends with the same adapter as an
    // uninterrupted run: same data order, optimizer state, dropout RNG and schedule.
    [Fact]
    public void KillAndResumeEqualsUninterrupted()
    {
        using var full = new TempDir();
        using var parted = new TempDir();
        var expected = TrainAdapter(full.Path, 2, false, t => t.Train());
        TrainAdapter(parted.Path, 2, false, t => t.Train(stopAfter: 5));
        Assert.True(Directory.Exists(Path.Combine(parted.Path, "checkpoints", "step-0000004")));
        AssertSameAdapter(expected, TrainAdapter(parted.Path, 2, true, t => t.Train()));
        var steps = File.ReadAllLines(Path.Combine(parted.Path, "metrics.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["step"]!.GetValue<int>());
        Assert.Equal(Enumerable.Range(1, 8), steps); // the repeated step 5 is not logged twice
    }

    // A stop asked for after step 5 (checkpoint-every 4: none due there) writes a checkpoint at step 5, so a resumed run
    // repeats no step, and ends with the adapter of an uninterrupted run.
    [Fact]
    public void AStopBetweenStepsCheckpointsWhereItStopped()
    {
        using var full = new TempDir();
        using var parted = new TempDir();
        var expected = TrainAdapter(full.Path, 4, false, t => t.Train());
        TrainAdapter(parted.Path, 4, false, t =>
        {
            using var stop = new CancellationTokenSource();
            var progress = new ReportedAtOnce<TrainProgress>(p =>
            {
                if (p.Step == 5)
                    stop.Cancel();
            });
            Assert.Throws<OperationCanceledException>(() => t.Train(progress, cancel: stop.Token));
        });
        var checkpoints = Directory.GetDirectories(Path.Combine(parted.Path, "checkpoints")).Select(Path.GetFileName).Order();
        Assert.Equal(["step-0000004", "step-0000005"], checkpoints);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(parted.Path, "metrics.jsonl")).Length);
        AssertSameAdapter(expected, TrainAdapter(parted.Path, 4, true, t => t.Train()));
    }

    /// <summary>Progress reported on the training thread as it happens (Progress&lt;T&gt; would post it later).</summary>
    sealed class ReportedAtOnce<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    [Fact]
    public void LiveTensorCountStaysFlatOver200Steps()
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        var adapters = LoraInjector.Inject(
            model,
            new LoraConfig
            {
                R = 2,
                Alpha = 4,
                Dropout = 0.1,
            }
        );
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(8, 8), Config(200) with { MicroBatchSize = 2 });
        trainer.Train(stopAfter: 10);
        long after10 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        trainer.Train();
        long after200 = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        Assert.Equal(200, trainer.Step);
        Assert.True(after200 - after10 <= 0, $"live tensors grew from {after10} to {after200} over 190 steps");
    }

    [Fact]
    public void EmptyDataIsAClearErrorBeforeTraining()
    {
        using var model = TinyModels.Llama();
        var adapters = LoraInjector.Inject(model, new LoraConfig());
        var e = Assert.Throws<AloraException>(() => new Trainer(model, adapters, [], Config(3)));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void PackingAndPromptMasksMarkTheRightTargets()
    {
        var packed = TrainingData.Pack(
            [
                [10, 11, 12],
                [20, 21],
            ],
            bos: 1,
            eos: 2,
            seqLen: 4
        );
        // stream 1 10 11 12 2 1 20 21 2 -> chunks [1 10 11 12] [2 1 20 21] [2]: the singleton is dropped
        Assert.Equal(2, packed.Count);
        Assert.Equal(new[] { 1, 10, 11, 12 }, packed[0].Ids);
        Assert.Equal(new[] { false, true, true, true }, packed[0].Targets);
        Assert.Equal(new[] { 2, 1, 20, 21 }, packed[1].Ids);
    }

    [Fact]
    public void PermutationIsDeterministicAndCoversAll()
    {
        var p1 = BatchSchedule.Permutation(50, 7, 0);
        Assert.Equal(p1, BatchSchedule.Permutation(50, 7, 0));
        Assert.NotEqual(p1, BatchSchedule.Permutation(50, 7, 1));
        Assert.Equal(Enumerable.Range(0, 50), p1.Order());
    }
}
