Console.WriteLine("alora");
