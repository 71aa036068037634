"""Help-centre articles: product care guides, one per product or material."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "product-care"
ARTICLES = [
    Src("care-cast-iron-skillet", "Caring for the Ironwood cast-iron skillet", ["care", "cast iron", "kitchen"],
        """
The Ironwood skillet comes pre-seasoned with vegetable oil. Seasoning builds up the more you cook.

## After cooking
1. Let it cool a little, then rinse with hot water and scrub with a brush. A drop of mild soap is fine.
2. Dry it completely on the stove over low heat for a minute.
3. Rub a thin layer of oil over the inside with a paper towel.

## Avoid
- Soaking it or putting it in the dishwasher: it will rust.
- Cooking very acidic sauces for hours in a new skillet.

## Rust spots
Scrub the rust off with steel wool, wash, dry, then oil the whole pan and bake it upside down at
450 °F (230 °C) for an hour. Surface rust isn't a defect and is easy to fix.
""", ["my cast iron pan is rusty", "can the skillet go in the dishwasher"]),
    Src("care-chefs-knife", "Caring for the Keelson chef's knife", ["care", "knife", "kitchen", "sharpening"],
        """
The Keelson knife is high-carbon stainless steel with a 15° edge.

## Everyday care
- Hand wash and dry right away. The dishwasher dulls and can chip the edge.
- Cut on wood or plastic boards, never glass, stone or ceramic.
- Store it in a block, on a magnetic strip or in a sheath.

## Keeping it sharp
- Hone it on a ceramic rod every few uses to straighten the edge.
- Sharpen on a whetstone (1000 then 6000 grit) about twice a year, holding a 15° angle.

Small chips from twisting the blade or cutting bone are not covered by the quality guarantee.
""", ["how do i sharpen the chef knife", "what angle is the keelson knife edge"]),
    Src("care-wood-cutting-boards", "Caring for wooden cutting boards", ["care", "cutting board", "wood", "kitchen"],
        """
This guide covers the Burl end-grain board and the engraved cutting board.

## Cleaning
1. Scrape off food, then wash with warm soapy water and rinse.
2. Dry upright so air reaches both sides. Never soak or put it in the dishwasher.
3. For smells, rub with coarse salt and half a lemon, then rinse.

## Oiling
Once a month, or whenever the wood looks pale, rub in food-grade mineral oil, leave it overnight and wipe
off the excess. A board that's oiled regularly resists stains and cracks.

## Warping
A slight rock usually means one side dried faster. Wet the concave side, lay it flat, and put a weight on
it overnight.
""", ["cutting board cracked, how do i stop that", "what oil do i use on the wooden board"]),
    Src("care-stoneware-dinnerware", "Caring for stoneware dinnerware", ["care", "stoneware", "dishes"],
        """
The 16-piece stoneware set is dishwasher, microwave and oven safe up to 400 °F (200 °C).

## Tips
- Avoid sudden temperature changes, like moving a dish from the fridge into a hot oven: it can crack.
- Grey marks from cutlery are metal, not scratches; remove them with a non-abrasive cleaner and a soft cloth.
- The unglazed foot ring can be rough; don't slide plates across delicate surfaces.

Chips and cracks from knocks aren't covered, but a plate that crazes (fine cracks in the glaze) within
the quality guarantee period is replaced.
""", ["are the plates microwave safe", "grey marks on my new plates"]),
    Src("care-electric-kettle", "Descaling the Copperline kettle", ["care", "kettle", "descaling", "appliances"],
        """
Hard water leaves limescale that makes the kettle slower and noisier. Descale monthly in hard-water areas.

## Descale
1. Fill the kettle halfway with equal parts water and white vinegar (or use citric acid: 2 tablespoons per
   litre of water).
2. Bring it to the boil, switch off and let it stand for an hour.
3. Empty, rinse twice, and boil fresh water once before using it again.

## Filter
Pull the mesh filter out of the spout and rinse it under the tap every few weeks.

Never put the kettle or its base in water. Limescale damage isn't covered by the
{w_appliances}-month warranty.
""", ["white flakes in my kettle water", "how to clean limescale from kettle"]),
    Src("care-espresso-maker", "Cleaning the Steamline espresso maker", ["care", "espresso", "coffee", "appliances"],
        """
## Every day
- Purge the steam wand for 2 seconds and wipe it right after steaming milk.
- Knock out the puck and rinse the portafilter and basket.
- Empty the drip tray.

## Every week
Backflush with the blank basket and plain water: five 10-second cycles.

## Every month
Descale with a descaling solution when the **descale** light comes on, following the on-screen steps. The
cycle takes about 25 minutes.

## Water
Filtered water reduces scale and improves taste. Don't use distilled water; the machine's sensor needs
minerals to detect the water level.
""", ["descale light is on on the espresso machine", "how often should i clean the espresso maker"]),
    Src("care-blender", "Cleaning the Brightmill blender", ["care", "blender", "appliances"],
        """
## Quick clean
Right after use, fill the jar halfway with warm water and a drop of dish soap. Run on high for 30 seconds,
then rinse.

## Deep clean
- The jar and lid are top-rack dishwasher safe. The blade assembly unscrews; wash it by hand.
- For cloudy jars, soak in equal parts vinegar and water for an hour.
- Wipe the motor base with a damp cloth; never put it in water.

## Keep the blades sharp
Always add some liquid before crushing ice, and don't run the motor for more than 60 seconds at a time.
""", ["can the blender jar go in the dishwasher"]),
    Src("care-merino-wool", "Washing merino wool: blankets, socks and beanies", ["care", "wool", "merino", "laundry"],
        """
Merino naturally resists smells, so it needs washing less often than cotton.

## Throw blanket
Spot clean, or hand wash in cool water with wool wash. Press out water in a towel; don't wring. Dry flat.

## Socks and beanie
Machine wash cold on the wool cycle, inside out, in a mesh bag. Lay flat to dry.

## Avoid
Hot water, the tumble dryer and fabric softener: they felt and shrink wool.

## Pilling
Small bobbles are normal in the first weeks. Remove them with a fabric comb; they stop forming as the loose
fibres are gone.
""", ["can i put the wool blanket in the washer", "my merino socks shrank", "blanket is pilling"]),
    Src("care-linen-sheets", "Caring for washed linen sheets", ["care", "linen", "bedding", "laundry"],
        """
Our linen is pre-washed for softness and gets softer with every wash.

1. Wash at 104 °F (40 °C) on a gentle cycle with a mild detergent. Wash separately the first time: the
   colour may bleed slightly.
2. Don't use bleach or fabric softener, which weaken the fibres.
3. Tumble dry on low and remove while slightly damp, or line dry.
4. Linen is meant to look relaxed; iron on medium while damp if you prefer it crisp.

Expect about 3% shrinkage in the first wash; the sizes already allow for it.
""", ["how to wash linen sheets", "do linen sheets shrink"]),
    Src("care-cotton-towels", "Caring for Turkish cotton towels", ["care", "towels", "cotton", "laundry"],
        """
## First wash
Wash before first use with half the usual detergent to remove the finishing and boost absorbency.

## Regular washing
- Warm wash (up to 140 °F / 60 °C) with like colours.
- Skip fabric softener; it coats the fibres and makes towels less absorbent. Use half a cup of white vinegar
  in the rinse every few washes instead.
- Tumble dry on medium or line dry.

## Pulled loops
Snip a pulled loop level with the surface; don't pull it. Shedding for the first few washes is normal.
""", ["new towels leave lint everywhere", "why arent my towels absorbent"]),
    Src("care-jute-rug", "Caring for the braided jute rug", ["care", "rug", "jute"],
        """
Jute is a natural plant fibre. It's durable, but doesn't like water.

- Vacuum weekly without the beater bar; shake smaller areas outside.
- Blot spills straight away with a dry cloth. For stains, dab with a little mild soap and water, then dry
  quickly with a hairdryer on cool.
- Never steam clean or shampoo the rug: water leaves brown marks.
- Rotate the rug every few months so it wears evenly, and use a rug pad to stop it slipping.

Some shedding is normal for the first month.
""", ["spilled wine on the jute rug", "can i steam clean the rug"]),
    Src("care-wood-furniture", "Caring for solid wood furniture", ["care", "furniture", "wood", "oak"],
        """
This guide covers the oak side table, alder bookshelf and walnut floating shelves.

## Everyday
- Dust with a soft, dry cloth.
- Use coasters and mats: heat and moisture leave white rings.
- Keep pieces out of direct sunlight and away from radiators to avoid fading and cracks.

## Cleaning
Wipe with a cloth dampened with mild soapy water, then dry straight away. Avoid silicone polishes.

## Refresh the finish
Once a year, apply a thin coat of furniture wax with the grain, let it haze, and buff.

## Loose joints
Tighten the hardware a month after assembly, as wood settles.
""", ["white ring on my oak table", "how to clean the bookshelf"]),
    Src("care-upholstered-bench", "Cleaning the upholstered bench", ["care", "upholstery", "furniture", "fabric"],
        """
The entry bench is covered in a performance woven fabric (cleaning code **W**: water-based cleaners).

1. Vacuum weekly with the upholstery brush.
2. Blot spills with a clean white cloth; don't rub.
3. For stains, use a little mild soap in water, working from the outside in, then blot with plain water.
4. Let it air dry; a fan helps avoid water rings.

Don't remove the cover to machine wash it, and don't use bleach or solvents.
## Pets and sunlight
Brush off pet hair with a rubber glove or lint roller. Keep the bench out of strong direct sunlight, which
fades fabric over time; fading isn't covered by the furniture warranty.
""", ["how do i get a coffee stain off the bench"]),
    Src("care-leather-boots", "Caring for leather Chelsea boots", ["care", "leather", "boots", "apparel"],
        """
## Before the first wear
Apply a leather protector spray to help repel water and salt.

## Regular care
1. Brush off dirt after wearing.
2. Wipe with a damp cloth; let the boots dry at room temperature with cedar shoe trees or newspaper inside.
   Never dry them on a radiator.
3. Condition every 2 to 3 months with a leather cream in a matching colour.

## Salt stains
Wipe with equal parts water and white vinegar, let dry, then condition.

The elastic side panels stretch a little with wear; that's normal.
""", ["how to remove salt stains from leather boots"]),
    Src("care-rain-jacket", "Washing and reproofing the Stormwatch rain jacket", ["care", "rain jacket", "waterproof"],
        """
Dirt and skin oils reduce breathability, so washing actually helps the jacket stay waterproof.

## Wash
1. Close all zips and Velcro.
2. Machine wash warm (86 °F / 30 °C) with a technical wash, not regular detergent or softener.
3. Rinse twice.

## Restore the water beading
Tumble dry on low for 20 minutes: the heat reactivates the water-repellent finish. If water no longer
beads, apply a spray-on reproofer to the clean, damp jacket and tumble dry again.

## Wetting out
If the outer fabric darkens in heavy rain, the finish needs reproofing. You won't get wet through the
membrane.
""", ["my rain jacket isn't waterproof anymore", "can i wash the rain jacket in the machine"]),
    Src("care-down-vest", "Washing the down puffer vest", ["care", "down", "vest", "apparel"],
        """
1. Use a front-loading machine (agitators damage baffles), on a gentle cycle at 86 °F (30 °C) with a down
   wash.
2. Rinse twice to remove all soap.
3. Tumble dry on low with two or three clean tennis balls, stopping every 20 minutes to break up clumps.
   It can take 2 to 3 hours to dry fully; damp down smells and clumps.

Store it uncompressed on a hanger. A few feathers poking through is normal; pull them back from the inside
rather than out.
""", ["down vest clumped after washing", "how do you dry a puffer vest"]),
    Src("care-waxed-canvas", "Caring for the waxed canvas tote", ["care", "waxed canvas", "bags"],
        """
Waxed canvas builds character: creases and scuffs are part of the look.

- **Don't** wash it in a machine or with hot water or soap; it strips the wax.
- Brush off dry dirt, then wipe with a cold, damp cloth.
- Rewax once a year or when the fabric stops repelling water: warm the wax bar, rub it in, then use a
  hairdryer to melt it evenly.
- Small scuffs fade if you rub them with your fingers to warm the wax.
""", ["how to clean my waxed tote bag"]),
    Src("care-tent", "Caring for the Ridgeline tent", ["care", "tent", "camping", "outdoor"],
        """
## After every trip
- Shake out dirt and let the tent dry completely before packing it away, even if it means setting it up at
  home. Packing it wet causes mildew, which isn't covered by the warranty.
- Brush sand out of the zips.

## Cleaning
Sponge with cool water and non-detergent soap. Never machine wash or dry.

## Storage
Store loosely in a breathable bag, not the tight stuff sack, in a cool, dry place.

## Poles
Fold poles from the middle out so the shock cord isn't over-stretched.
""", ["tent smells musty", "can i wash the tent"]),
    Src("care-bottles-and-tumblers", "Cleaning insulated bottles and tumblers", ["care", "water bottle", "tumbler"],
        """
This covers the 32 oz water bottle and the 20 oz tumbler.

- Lids and seals are top-rack dishwasher safe; the vacuum-insulated body is **hand wash only**. A dishwasher
  can damage the vacuum seal and the powder coat.
- Clean inside with a bottle brush and warm soapy water.
- For coffee stains or smells, fill with hot water and a tablespoon of baking soda, leave overnight, rinse.
- Remove the lid gasket monthly and wash it to prevent mould.

Never freeze, microwave or put carbonated drinks in a sealed bottle.
""", ["can my water bottle go in the dishwasher", "tumbler smells like old coffee"]),
    Src("care-soy-candles", "Burning soy candles safely", ["care", "candles", "home"],
        """
1. **First burn:** let the wax melt all the way to the edge (about 2 hours). This prevents tunnelling.
2. **Trim the wick** to 1/4 inch (6 mm) before every burn to stop smoke and soot.
3. Burn for no more than 4 hours at a time.
4. Stop when 1/2 inch of wax is left.
5. Never leave a burning candle unattended, and keep it away from drafts, pets and children.

A tunnelled candle can often be fixed by wrapping foil around the rim, leaving the centre open, and burning
for an hour.
""", ["candle is tunneling", "how long should i burn the candle the first time"]),
    Src("care-headphones-and-earbuds", "Cleaning headphones and earbuds", ["care", "earbuds", "headphones", "electronics"],
        """
## Earbuds
- Wipe the earbuds and case with a dry, lint-free cloth.
- Clean the speaker mesh with a dry, soft brush; don't use water or sharp objects.
- Replace the ear tips every 6 months (spares are in the box).

## Over-ear headphones
- Wipe the ear cushions with a slightly damp cloth and let them dry.
- Replacement cushions clip on and off; contact us for a set.

## Batteries
Battery life lasts longer if you avoid leaving devices fully drained. Charge at least every 3 months during
storage.

The earbuds are sweat-resistant (IPX4) but not waterproof: don't rinse them.
""", ["how do i clean my earbuds", "replacement ear cushions for tidewater headphones"]),
    Src("care-daypack", "Cleaning the Trailhead daypack", ["care", "backpack", "outdoor"],
        """
1. Empty every pocket and shake out crumbs; vacuum the corners.
2. Remove the hip belt if you want to clean it separately.
3. Hand wash in a tub with cool water and mild soap, scrubbing marks with a soft brush.
4. Rinse well and hang upside down, pockets open, to air dry away from direct sun.

Don't machine wash or tumble dry: it damages the back panel foam and the water-repellent coating.
## Zips and buckles
Brush grit out of the zips after dusty hikes and run a zip lubricant along the teeth if they stick. A broken
buckle is covered by the {w_outdoor}-month outdoor gear warranty; we send a replacement buckle that clips on
without tools.
""", ["can i put my backpack in the washing machine"]),
]  # fmt: skip
