"""Help-centre articles: warranty and quality guarantee."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "warranty"
ARTICLES = [
    Src("warranty-overview", "Warranty overview", ["warranty", "coverage", "guarantee"],
        """
Every product we sell is covered against manufacturing defects. How long depends on the kind of product.

| Product type | Coverage from delivery |
|---|---|
| Electronics (earbuds, headphones, speakers, lamps, chargers, e-readers, smart home) | {w_electronics} months |
| Kitchen appliances (kettle, blender, espresso maker, toaster) | {w_appliances} months |
| Furniture | {w_furniture} months |
| Outdoor gear (tents, packs, hammocks) | {w_outdoor} months |
| Everything else | {guarantee_days}-day quality guarantee |

The product page and your receipt both show the warranty for each item.

## What the warranty covers
Defects in materials and workmanship under normal household use. We repair or replace the item, or
refund it if neither is possible.

## What it doesn't cover
Accidental damage, wear and tear, misuse and commercial use. See *What the warranty doesn't cover*.
## Warranty or return?
Within the return window ({return_days} days from delivery, {premier_return_days} days for Premier
members) you can simply return a faulty item for a refund. After that, the warranty applies: we repair or
replace the item, usually within a week of approving the claim.

## Final-sale and clearance items
Final sale only rules out change-of-mind returns. Defects in final-sale items are covered by the same
warranty as the regular item.

## Gifts
The warranty follows the product, not the buyer. A gift recipient can claim with the order number.
""", ["how long is the warranty on electronics", "is there a guarantee on furniture", "warranty on a kettle?"]),
    Src("file-a-warranty-claim", "How to make a warranty claim", ["warranty", "claim", "steps"],
        """
## Before you start
Try the product's troubleshooting article: many problems are fixed by a reset or a charge.

## Make a claim
1. Open **Account > Orders** and find the order with the item.
2. Select **Report a problem > Warranty claim**.
3. Describe the fault and add a photo or a short video showing it.
4. We reply within 2 business days with the next step: a replacement, a repair with a prepaid label, or a
   replacement part.

## No account?
Email {support_email} with your order number, the product and a description of the fault.

Warranty replacements ship free. The replacement is covered for the rest of the original warranty, or
90 days, whichever is longer.
""", ["how do I claim warranty on my headphones", "my speaker died, how do i use the warranty"]),
    Src("electronics-warranty", "Warranty on electronics", ["warranty", "electronics", "battery"],
        """
Our electronics (earbuds, headphones, speakers, lamps, chargers, power banks, e-readers, thermostats, air
purifiers, smart plugs and the camp light) are covered for **{w_electronics} months from delivery**.

## Batteries
Batteries are covered if capacity drops below 70% within the warranty period. Gradual loss of battery life
after that is normal wear.

## Clearance electronics
Clearance electronics are final sale, so they can't be returned for a change of mind, but they keep the
full {w_electronics}-month warranty against defects.

## Not covered
Water damage (except products rated as water-resistant, used within their rating), cracked screens,
lost earbuds or cases, and damage from third-party chargers above the rated wattage.
""", ["my earbuds battery is dying after 8 months, is that covered", "does the clearance speaker have a warranty"]),
    Src("kitchen-appliance-warranty", "Warranty on kitchen appliances", ["warranty", "kitchen", "appliances"],
        """
The Copperline kettle, Brightmill blender, Steamline espresso maker and Crumb toaster are covered for
**{w_appliances} months from delivery**.

## Covered
- Motors, heating elements, switches and thermostats that fail in normal home use.
- Leaks from seals on the espresso maker and blender jar.

## Not covered
- Limescale build-up: descale regularly (see the care guides).
- Cracked jars or carafes from drops or thermal shock.
- Blades dulled by crushing ice without liquid in the blender.

## Spare parts
Blender jars, kettle filters and espresso portafilters can be ordered as parts, even after the warranty
ends. Contact us with the product name.
""", ["the kettle stopped heating after a year, still under warranty?", "is limescale damage covered"]),
    Src("furniture-warranty", "Warranty on furniture", ["warranty", "furniture", "frame"],
        """
Furniture is covered for **{w_furniture} months from delivery** against defects in frames, joints,
mechanisms and hardware.

## Covered
- Frames or joints that crack or separate in normal use.
- The gas lift and tilt mechanism of the desk chair.
- The motor and control box of the standing desk.

## Not covered
Fabric wear, fading in direct sunlight, scratches, water rings, and damage from moving the furniture.
Floor models sold as clearance carry the same warranty.

## Parts first
Where a single part has failed we send a replacement part with instructions, which is usually faster
than replacing the whole piece.
""", ["my desk chair keeps sinking, its 2 years old", "what does the furniture warranty cover"]),
    Src("quality-guarantee", "Our {guarantee_days}-day quality guarantee", ["warranty", "guarantee", "quality"],
        """
Products without a longer warranty, like clothing, bedding, towels, cookware and candles, are covered by
our **{guarantee_days}-day quality guarantee** from delivery.

## What it covers
If something wears out, comes apart or fails far sooner than it should, for example a seam splitting, a
zip breaking or a towel shedding after washing, we replace it.

## How to use it
Contact us with the order number and a photo. You don't need to send the item back unless we ask.

## After {guarantee_days} days
Normal wear is expected, but if you think a product failed unreasonably early, contact us anyway; we look at
every case.
""", ["zipper on my jacket broke after 2 months", "my flannel shirt seam came apart"]),
    Src("warranty-exclusions", "What the warranty doesn't cover", ["warranty", "exclusions", "damage"],
        """
Warranties cover manufacturing defects, not every problem a product can have.

## Not covered
- **Accidental damage:** drops, spills, cracked screens, burns.
- **Wear and tear:** fading, pilling, scuffs, gradual battery loss after the warranty period.
- **Misuse:** ignoring the care guide, using the wrong voltage or charger, commercial use.
- **Modifications:** repairs by someone other than {shop} or changes to the product.
- **Lost parts:** missing earbuds, remotes or cases after delivery.

## Still worth asking
If your product was damaged on delivery, that's covered separately: report it within {damage_days} days.
""", ["i dropped my e-reader and the screen cracked is that covered", "does warranty cover water damage"]),
    Src("warranty-repair-or-replacement", "Repair, replacement or refund under warranty", ["warranty", "replacement", "repair"],
        """
When we accept a warranty claim, we choose the remedy that gets you a working product fastest.

1. **Replacement part**: for furniture hardware, blender jars, chargers and similar parts.
2. **Replacement product**: the most common remedy for small electronics and appliances.
3. **Repair**: for larger items like the espresso maker or standing desk; we send a prepaid label or book a
   pickup.
4. **Refund**: only if the product is discontinued and no equivalent is available. The refund is what you
   paid for the item.

Warranty replacements are new, not refurbished, and ship free by standard shipping.
""", ["will you fix it or send me a new one"]),
    Src("warranty-proof-of-purchase", "Warranty without a receipt", ["warranty", "receipt", "proof of purchase"],
        """
You don't need a paper receipt: your order in **Account > Orders** is your proof of purchase.

## Gifts
If the product was a gift, ask the giver for the order number, or contact us with the name and email of the
buyer, the product and the approximate date. The warranty starts from the original delivery date.

## Bought elsewhere
The warranty covers items bought from {shop}. Products bought from other stores are covered by that
store or the manufacturer.

We keep order records for {retention_years} years, so older purchases can still be found.
""", ["lost my receipt can i still claim warranty", "warranty on a gift, no order number"]),
    Src("extended-protection-plans", "Extended protection plans", ["warranty", "protection plan", "extended"],
        """
We don't sell extended warranties or protection plans, and we never call customers to offer one. If you
get such a call or email claiming to be from {shop}, don't share payment details; see *Spotting phishing*.

Our standard coverage already includes:
- {w_electronics} months on electronics,
- {w_appliances} months on kitchen appliances,
- {w_furniture} months on furniture,
- a {guarantee_days}-day quality guarantee on everything else.
## What if my product breaks after the warranty?
Contact us anyway. For products that fail soon after the warranty ends, we often offer a discounted
replacement or a repair at cost. Spare parts for appliances and furniture remain available for several
years.
""", ["can i buy an extended warranty", "someone called me offering a warranty extension from you"]),
    Src("warranty-claim-status", "Checking a warranty claim", ["warranty", "claim status"],
        """
After you make a claim, its progress appears on the order page under **Problems**.

| Step | What it means |
|---|---|
| Submitted | We received your claim and photos. |
| In review | A specialist is checking it (up to 2 business days). |
| Approved | We're sending a part, replacement or label; you'll get tracking by email. |
| Need more info | We've emailed you a question; the claim waits for your reply. |
| Closed | The claim is finished. |

Claims waiting for your reply close after 14 days without an answer; you can reopen them by replying to
the email.
""", ["what's happening with my warranty claim"]),
    Src("outdoor-gear-warranty", "Warranty on outdoor gear", ["warranty", "outdoor", "tent"],
        """
The Ridgeline tent, Trailhead daypack and Parachute hammock are covered for **{w_outdoor} months from
delivery** against defects in fabric, seams, zips, buckles and poles.

## Covered
- Seams that leak on a tent that was seam-checked and pitched as instructed.
- Zips that split or pulls that break in normal use.
- Poles that snap without being bent or stepped on.

## Not covered
Damage from campfires, sharp rocks, animals or UV degradation from leaving gear pitched for weeks.

Our water bottle and cookset are covered by the {guarantee_days}-day quality guarantee.
""", ["tent pole snapped on first trip", "is the hammock covered if a strap breaks"]),
]  # fmt: skip
