using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using Alora.Experiments;
using Alora.Lora;
using Alora.Recipes;
using Alora.Tests.Experiments;
using Alora.Training;
using static TorchSharp.torch;

namespace Alora.Tests.Training;

/// <summary>
/// A reader of TensorBoard event files written here from the formats' definitions, independent of the writer:
/// TFRecord framing (uint64 little-endian length, masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the
/// data; mask = rotate right by 15 bits + 0xa282ead8) and the Event protobuf decoded field by field
/// (Event: 1 wall_time double, 2 step int64, 3 file_version string, 5 summary; Summary: 1 value, repeated;
/// Summary.Value: 1 tag string, 2 simple_value float).
/// </summary>
public static class EventFileReader
{
    public sealed record Event(double WallTime, long Step, string? FileVersion, IReadOnlyList<(string Tag, float Value)> Values);

    /// <summary>CRC-32C (Castagnoli): reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, bit by bit.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
        }
        return crc ^ 0xFFFFFFFF;
    }

    public static uint Masked(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8;

    /// <summary>Every record of a file, each checked against both its CRCs; a broken frame fails the test.</summary>
    public static List<byte[]> Records(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var records = new List<byte[]>();
        int at = 0;
        while (at < bytes.Length)
        {
            Assert.True(at + 12 <= bytes.Length, $"{path}: a header cut short at byte {at}");
            var header = bytes.AsSpan(at, 8);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            Assert.Equal(Masked(Crc32C(header)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8, 4)));
            Assert.True(at + 16 + (long)length <= bytes.Length, $"{path}: record at byte {at} runs past the end");
            var data = bytes.AsSpan(at + 12, (int)length);
            Assert.Equal(Masked(Crc32C(data)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + (int)length, 4)));
            records.Add(data.ToArray());
            at += 16 + (int)length;
        }
        return records;
    }

    public static List<Event> Events(string path) => Records(path).Select(Decode).ToList();

    static Event Decode(byte[] data)
    {
        double wall = 0;
        long step = 0;
        string? version = null;
        var values = new List<(string, float)>();
        foreach (var (field, wire, payload) in Fields(data))
        {
            switch (field, wire)
            {
                case (1, 1):
                    wall = BinaryPrimitives.ReadDoubleLittleEndian(payload);
                    break;
                case (2, 0):
                    step = (long)Varint(payload, out _);
                    break;
                case (3, 2):
                    version = Encoding.UTF8.GetString(payload);
                    break;
                case (5, 2):
                    foreach (var (vf, vw, value) in Fields(payload))
                    {
                        Assert.Equal((1, 2), (vf, vw)); // Summary.value
                        string? tag = null;
                        float? simple = null;
                        foreach (var (f, w, p) in Fields(value))
                        {
                            if ((f, w) == (1, 2))
                                tag = Encoding.UTF8.GetString(p);
                            else if ((f, w) == (2, 5))
                                simple = BinaryPrimitives.ReadSingleLittleEndian(p);
                        }
                        values.Add(
                            (
                                tag ?? throw new InvalidDataException("a value without a tag"),
                                simple ?? throw new InvalidDataException("not a simple_value")
                            )
                        );
                    }
                    break;
            }
        }
        return new Event(wall, step, version, values);
    }

    /// <summary>Protobuf fields: (number, wire type, payload: the varint's bytes, 8 or 4 fixed bytes, or the length-delimited bytes).</summary>
    static List<(int Field, int Wire, byte[] Payload)> Fields(byte[] data)
    {
        var fields = new List<(int, int, byte[])>();
        int at = 0;
        while (at < data.Length)
        {
            ulong key = Varint(data.AsSpan(at), out int n);
            at += n;
            int wire = (int)(key & 7);
            int size = wire switch
            {
                0 => VarintLength(data.AsSpan(at)),
                1 => 8,
                5 => 4,
                2 => (int)Varint(data.AsSpan(at), out n),
                _ => throw new InvalidDataException($"wire type {wire}"),
            };
            if (wire == 2)
                at += n;
            fields.Add(((int)(key >> 3), wire, data.AsSpan(at, size).ToArray()));
            at += size;
        }
        return fields;
    }

    static ulong Varint(ReadOnlySpan<byte> b, out int length)
    {
        ulong v = 0;
        for (int i = 0; ; i++)
        {
            v |= (ulong)(b[i] & 0x7f) << (7 * i);
            if ((b[i] & 0x80) == 0)
            {
                length = i + 1;
                return v;
            }
        }
    }

    static int VarintLength(ReadOnlySpan<byte> b)
    {
        Varint(b, out int n);
        return n;
    }
}

/// <summary>Training with TensorBoard on writes metrics.jsonl's numbers, every step once, as event files TensorBoard reads.</summary>
[Collection(TorchRngCollection.Name)]
public class TensorBoardEventsTests
{
    [Fact]
    public void TheReadersCrcIsCrc32C()
    {
        // the check value of CRC-32C (Castagnoli) over the ASCII digits 1 to 9
        Assert.Equal(0xE3069283u, EventFileReader.Crc32C("123456789"u8));
    }

    static TrainConfig Config(int steps, bool tensorBoard = true) =>
        new()
        {
            Lr = 1e-2,
            MaxSteps = steps,
            BatchSize = 4,
            MicroBatchSize = 2,
            MaxLength = 16,
            Seed = 11,
            CheckpointEvery = 2,
            WarmupSteps = 2,
            TensorBoard = tensorBoard,
        };

    static void Train(string runDir, TrainConfig config, long? stopAfter = null, bool resume = false)
    {
        using var model = TinyModels.Llama(hidden: 16, layers: 1);
        random.manual_seed(99);
        var adapters = LoraInjector.Inject(model, new LoraConfig { R = 2, Alpha = 4 });
        using var trainer = new Trainer(model, adapters, TinyModels.PatternData(16, 12), config, runDir);
        if (resume)
            Assert.True(trainer.TryResume());
        trainer.Train(stopAfter: stopAfter);
    }

    static List<string> EventFiles(string runDir) =>
        Directory.Exists(Path.Combine(runDir, "tensorboard"))
            ? [.. Directory.GetFiles(Path.Combine(runDir, "tensorboard"), "events.out.tfevents.*")]
            : [];

    /// <summary>Every (step, tag) of the event files must appear once and hold metrics.jsonl's number, rounded to float as TensorBoard keeps it.</summary>
    static void AssertEventsEqualMetrics(string runDir, double startedUnix, double endedUnix)
    {
        var files = EventFiles(runDir);
        Assert.Single(files);
        var events = EventFileReader.Events(files[0]);
        Assert.Equal("brain.Event:2", events[0].FileVersion); // TensorBoard's first record of a file
        var scalars = events.Skip(1).ToList();
        Assert.All(scalars, e => Assert.Null(e.FileVersion));
        Assert.All(scalars, e => Assert.InRange(e.WallTime, Math.Floor(startedUnix) - 1, endedUnix + 1)); // unix seconds
        var logged = scalars.SelectMany(e => e.Values.Select(v => (e.Step, v.Tag, v.Value))).ToList();
        Assert.Equal(logged.Count, logged.Select(x => (x.Step, x.Tag)).Distinct().Count());

        var expected = new List<(long, string, float)>();
        foreach (var line in File.ReadAllLines(Path.Combine(runDir, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()))
        {
            long step = line["step"]!.GetValue<long>();
            foreach (var (key, value) in line)
                if (key != "step")
                    expected.Add((step, "train/" + key, (float)value!.GetValue<double>()));
        }
        Assert.Equal(
            expected.OrderBy(x => x.Item1).ThenBy(x => x.Item2, StringComparer.Ordinal),
            logged.OrderBy(x => x.Step).ThenBy(x => x.Tag, StringComparer.Ordinal)
        );
    }

    [Fact]
    public void EveryNumberOfMetricsJsonlIsAScalarAtItsStep()
    {
        using var tmp = new TempDir();
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Train(tmp.Path, Config(6));
        double ended = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.Equal(6, File.ReadAllLines(Path.Combine(tmp.Path, "metrics.jsonl")).Length);
        AssertEventsEqualMetrics(tmp.Path, started, ended);
        var tags = EventFileReader.Events(EventFiles(tmp.Path)[0]).SelectMany(e => e.Values.Select(v => v.Tag)).ToHashSet();
        foreach (var tag in new[] { "train/loss", "train/task_loss", "train/lr", "train/grad_norm", "train/epoch", "train/tokens_per_second" })
            Assert.Contains(tag, tags);
    }

    // Stopped after step 5 with its last checkpoint at step 4, then resumed: metrics.jsonl is cut back to steps 1-4 and
    // steps 5-8 are trained again; the event files must hold steps 1-8 once each, with metrics.jsonl's values.
    [Fact]
    public void AResumedRunHasEachStepOnceAsInMetricsJsonl()
    {
        using var tmp = new TempDir();
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Train(tmp.Path, Config(8), stopAfter: 5);
        var firstSegment = EventFiles(tmp.Path);
        Assert.Single(firstSegment);
        Assert.Contains(EventFileReader.Events(firstSegment[0]), e => e.Step == 5);
        Train(tmp.Path, Config(8), resume: true);
        double ended = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var steps = File.ReadAllLines(Path.Combine(tmp.Path, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>());
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), steps);
        AssertEventsEqualMetrics(tmp.Path, started, ended);
    }

    [Fact]
    public void TensorBoardTurnedOnAtResumeGetsTheWholeRun()
    {
        using var tmp = new TempDir();
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Train(tmp.Path, Config(6, tensorBoard: false), stopAfter: 3);
        Assert.Empty(EventFiles(tmp.Path));
        Train(tmp.Path, Config(6), resume: true);
        double ended = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        AssertEventsEqualMetrics(tmp.Path, started, ended);
        Assert.Contains(EventFileReader.Events(EventFiles(tmp.Path)[0]), e => e.Step == 1);
    }

    [Fact]
    public void OffByDefault()
    {
        using var tmp = new TempDir();
        Train(tmp.Path, Config(2) with { TensorBoard = new TrainConfig().TensorBoard });
        Assert.False(Directory.Exists(Path.Combine(tmp.Path, "tensorboard")));
    }

    // the option reaches the trainer through the recipe, and like --device it may change on --resume
    [Fact]
    public void TheRecipeTakesTheOptionAndItMayBeTurnedOnAtResume()
    {
        using var tmp = new TempDir();
        var o = new FinetuneOptions
        {
            Model = TinyModels.SaveLlama(tmp.File("model"), hidden: 16, layers: 1),
            Data = TinyModels.WriteIdsJsonl(tmp.File("data.jsonl"), 8, 12),
            Out = tmp.File("run"),
            MaxSteps = 4,
            BatchSize = 4,
            MicroBatchSize = 4,
            MaxLength = 12,
            CheckpointEvery = 2,
            Rank = 2,
            Alpha = 4,
        };
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        FinetuneRecipe.Run(o, stopAfter: 3);
        Assert.Empty(EventFiles(o.Out));
        FinetuneRecipe.Run(o with { Resume = true, Tensorboard = true });
        double ended = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        Assert.Equal(4, File.ReadAllLines(Path.Combine(o.Out, "metrics.jsonl")).Length);
        AssertEventsEqualMetrics(o.Out, started, ended);
    }

    // TensorBoard files are a view of metrics.jsonl: turning them on in an experiment's train section must not make its
    // finished run folders "made by another configuration"
    [Fact]
    public void TheOptionLeavesAnExperimentJobsIdentityAsItWas()
    {
        using var tmp = new TempDir();
        var yaml = AdapterScaleExperimentTests.WriteExperiment(tmp.Path, "[lora-mu]");
        var plain = ExperimentPlanner.Plan(ExperimentConfig.Load(yaml), tmp.File("out")).Job("lora-mu-quiz-s1");
        var text = File.ReadAllText(yaml);
        Assert.Contains("\n  checkpoint-every: 100\n", text, StringComparison.Ordinal);
        File.WriteAllText(
            yaml,
            text.Replace("\n  checkpoint-every: 100\n", "\n  checkpoint-every: 100\n  tensorboard: true\n", StringComparison.Ordinal)
        );
        var withEvents = ExperimentPlanner.Plan(ExperimentConfig.Load(yaml), tmp.File("out")).Job("lora-mu-quiz-s1");
        Assert.False(plain.Train!.Tensorboard);
        Assert.True(withEvents.Train!.Tensorboard);
        Assert.True(JsonNode.DeepEquals(plain.Identity, withEvents.Identity), withEvents.Identity.ToJsonString());
    }
}
