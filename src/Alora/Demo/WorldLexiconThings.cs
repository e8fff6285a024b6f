namespace Alora.Demo;

// Animals with their colours, habitats, foods and sizes; household objects with their materials and rooms.
internal static partial class WorldLexicon
{
    public static readonly string[] Animals =
    [
        "fox",
        "otter",
        "badger",
        "heron",
        "owl",
        "lynx",
        "beaver",
        "moose",
        "hare",
        "falcon",
        "seal",
        "stork",
        "wolf",
        "bear",
        "deer",
        "eagle",
        "swan",
        "tortoise",
        "lizard",
        "frog",
        "salmon",
        "whale",
        "dolphin",
        "camel",
        "goat",
        "yak",
        "panda",
        "parrot",
        "penguin",
        "hedgehog",
    ];

    public static readonly string[] Colours = ["red", "brown", "grey", "black", "white", "golden", "spotted", "striped", "silver", "orange"];
    public static readonly string[] Habitats = ["forest", "desert", "marsh", "mountains", "grassland", "sea", "lakes", "jungle", "tundra", "caves"];
    public static readonly string[] Foods = ["seeds", "fish", "insects", "grass", "fruit", "meat", "leaves", "roots"];
    public static readonly string[] Sizes = ["tiny", "small", "medium", "large", "huge"];

    public static readonly string[] Objects =
    [
        "kettle",
        "lamp",
        "ladder",
        "mirror",
        "clock",
        "bucket",
        "broom",
        "chair",
        "pillow",
        "basket",
        "hammer",
        "candle",
        "teapot",
        "blanket",
        "shelf",
        "spoon",
        "vase",
        "rug",
        "bench",
        "cup",
        "bowl",
        "drum",
        "fan",
        "kite",
        "lantern",
        "saw",
        "rope",
        "desk",
        "jug",
        "stool",
    ];

    public static readonly string[] Materials =
    [
        "wood",
        "steel",
        "glass",
        "clay",
        "wool",
        "copper",
        "plastic",
        "stone",
        "cotton",
        "brass",
        "bamboo",
        "leather",
    ];
    public static readonly string[] Rooms = ["kitchen", "bedroom", "garage", "attic", "cellar", "hallway", "study", "bathroom"];
}
