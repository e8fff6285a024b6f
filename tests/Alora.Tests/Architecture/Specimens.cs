// Specimens for the folder-dependency analysis: Left and Right use each other (Left only inside a method body, so
// the analysis must read IL, not only signatures); Top uses Left and is used by nothing, so it is in no cycle.
namespace Alora.Tests.Architecture.Specimens.Left
{
    public static class LeftThing
    {
        public static int Count() => new Right.RightThing().Items.Count;
    }
}

namespace Alora.Tests.Architecture.Specimens.Right
{
    public sealed class RightThing
    {
        public List<Left.LeftThingHolder> Items { get; } = [];
    }
}

namespace Alora.Tests.Architecture.Specimens.Left
{
    public sealed class LeftThingHolder;
}

namespace Alora.Tests.Architecture.Specimens.Top
{
    public static class TopThing
    {
        public static int Run() => Left.LeftThing.Count();
    }
}
