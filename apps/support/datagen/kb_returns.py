"""Help-centre articles: returns and exchanges."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "returns"
ARTICLES = [
    Src("return-policy", "Our return policy", ["returns", "return window", "policy"],
        """
Changed your mind? You can return most items within **{return_days} days of delivery** for a refund to
your original payment method. Premier members have {premier_return_days} days.

## What can be returned
- Items in new or like-new condition, with their original packaging where possible.
- Electronics and appliances that were opened or tried, as long as all parts and accessories are included.

## What can't be returned
- **Final-sale items**: clearance, personal care, personalised items and gift cards. See *Final-sale items*.
- Items returned after the return window closes.

## Cost
Return labels are free. The original shipping charge is not refunded.

## Refund amount
You get back what you paid for the returned items, after any order discount. Refunds are issued once the
return reaches our warehouse and take {refund_min_days} to {refund_max_days} business days to appear.
## Frequently asked
**Does the window start when I order?** No, it starts on the day the carrier delivers the order. For
orders in several parcels, each parcel's own delivery date counts.

**Can I return a gift?** Yes; the recipient gets store credit. See *Returning a gift*.

**What if it arrived damaged?** That isn't a change-of-mind return: report it within {damage_days} days
and we'll replace it, even for final-sale items.

**Can I exchange instead?** Yes, for a different size or colour of the same product, free of charge.
""", ["what is your return policy", "how many days do i have to send something back?", "can i return stuff i opened"]),
    Src("how-to-start-a-return", "How to start a return", ["returns", "return label", "steps"],
        """
## Start your return online
1. Sign in and go to **Account > Orders**.
2. Open the delivered order and select **Return items**.
3. Choose the items and a reason. Final-sale items can't be selected.
4. Pick how to send it: print the prepaid label, or show the QR code at a drop-off point.
5. Pack the items securely and send them within 14 days of starting the return.

## Guest orders
Use **Start a return** at the bottom of any page with your order number and email.

## After you ship it
Track the return from the order page. When it reaches us, we inspect it and issue the refund within 2
business days; your bank then takes {refund_min_days} to {refund_max_days} business days to show it.
""", ["how do i send something back", "where do i get a return label", "steps to return an item please"]),
    Src("premier-extended-returns", "Premier members: {premier_return_days}-day returns", ["returns", "premier", "membership"],
        """
Premier members get a longer return window: **{premier_return_days} days from delivery** instead of the
standard {return_days} days.

## Who qualifies
Your tier is shown under **Account > Membership**. Premier status comes with ${premier_spend} or more of
purchases in a calendar year.

## What's the same
- Final-sale items still can't be returned.
- Refunds go back to the original payment method.
- Return labels are free, as for everyone.

## Orders placed before you became Premier
The extended window applies to any order delivered while you hold Premier status.
""", ["as a premier member how long do i get to return", "do premier members get extra return days"]),
    Src("final-sale-items", "Final-sale items", ["returns", "final sale", "clearance"],
        """
Some items are sold as **final sale**. They can't be returned or exchanged for a change of mind, and we
can't refund them.

## Which items are final sale
- Everything in the **Clearance** section (the product name starts with "Clearance:").
- Personal care: soaps, oils, deodorant and bath salts, for hygiene reasons.
- Personalised items: monogrammed and engraved products.
- Gift cards.

Final-sale items are marked on the product page, in the cart and on your receipt.

## Damaged, defective or wrong?
Final sale never takes away your rights when something is wrong. If a final-sale item arrives damaged,
is defective, or isn't what you ordered, contact us within {damage_days} days of delivery and we'll
replace it. Warranties still apply to final-sale electronics.
""", ["can I return a clearance item", "why can't i return the beard oil", "is a monogrammed journal refundable"]),
    Src("return-shipping-and-labels", "Return shipping and labels", ["returns", "return label", "drop-off"],
        """
Return shipping is free within the US: every return comes with a prepaid label.

## Options
- **Print a label** and attach it to the box.
- **QR code:** no printer needed. Show the code at a Meridian Post office or a Cobalt Courier pickup point
  and they print the label for you.
- **Pickup:** for furniture, we book a freight pickup (see *Returning furniture*).

## Packing
Use the original box if you have it, remove old shipping labels, and seal it well. One label per box:
if your return needs two boxes, start the return again for the remaining items.

## International returns
Returns from outside the US are sent at your own cost with a tracked service.
""", ["do i have to pay for return shipping", "no printer, how do i return"]),
    Src("returning-a-gift", "Returning a gift", ["returns", "gifts", "store credit"],
        """
You can return a gift without the buyer finding out.

## How
1. Go to **Start a return** and choose **I received a gift**.
2. Enter the order number from the packing slip or gift receipt and your postal code.
3. Select the items and print the free label.

## Your refund
Gift returns are refunded as **store credit** to the recipient, emailed as a gift card once the return
arrives. The usual {return_days}-day window from delivery applies, and final-sale items can't be returned.

If you'd rather swap for a different size or colour, choose **Exchange** instead.
""", ["got something as a present, can i return it without the giver knowing"]),
    Src("exchanges", "Exchanging for a different size or colour", ["returns", "exchange", "size"],
        """
Exchanges are free and keep your original price, even if the item has since gone up.

## How to exchange
1. Open the delivered order and choose **Return items**.
2. Select the item and choose **Exchange** as the resolution.
3. Pick the new size or colour. If it's in stock, we reserve it right away.
4. Send the original back with the prepaid label. The replacement ships as soon as the carrier scans your
   return, so you don't wait for it to reach us.

## Limits
- Exchanges must be started within {return_days} days of delivery ({premier_return_days} for Premier).
- Only the same product in another size or colour. For anything else, return for a refund and reorder.
- Final-sale items can't be exchanged.
""", ["boots are too small, can i swap for a bigger size", "exchange jacket for another colour"]),
    Src("returning-furniture", "Returning furniture", ["returns", "furniture", "freight"],
        """
Furniture can be returned within the same {return_days}-day window as everything else.

## Pickup
1. Start the return online and choose **Schedule a pickup**.
2. The freight company contacts you to book a pickup window.
3. Disassemble the item if you assembled it, and pack it in the original box or wrap it securely.

## Cost
Pickups are free. The *Clearance* floor models are final sale and can't be returned.

## Damage on delivery
Note any damage on the delivery receipt and send us photos within {damage_days} days; we'll arrange a
replacement part or a new piece rather than a full return wherever we can.
""", ["how do i return a desk chair, it's huge", "bookshelf return pickup"]),
    Src("check-return-status", "Checking the status of a return", ["returns", "refund status", "tracking"],
        """
## Where to look
Open the order under **Account > Orders**. Items in a return show one of these steps:
1. **Return started**: we've issued a label.
2. **In transit**: the carrier scanned your parcel.
3. **Received**: it arrived at our warehouse.
4. **Refunded**: the refund was issued; the order status changes to *returned*.

## How long
Returns take 3 to 8 business days to reach us, and we issue the refund within 2 business days of receipt.
The bank then needs {refund_min_days} to {refund_max_days} business days to show it.

If your return shows *In transit* for more than 10 business days, contact us with the return tracking
number.
""", ["i shipped my return last week, has it arrived?", "where can i see if you received my return"]),
    Src("returning-part-of-an-order", "Returning only some items from an order", ["returns", "partial return", "discounts"],
        """
You can return any number of items from an order; the rest is yours to keep.

## How much you get back
You get back the price you paid for each returned item. If the order used a promo code, the discount was
shared across the eligible items in proportion to their price, so each item's refund is its price minus
its share of the discount. The item's line on the order page shows the exact amount.

## Example
You paid for a $100.00 jacket and a $50.00 shirt with a $15.00 discount. The discount is shared $10.00 and
$5.00, so returning the shirt refunds $45.00.

## Free shipping
Returning part of an order never reduces your refund for shipping, even if the rest of the order is now
below the free-shipping threshold.
""", ["if i return one thing from an order with a promo code how much do i get back"]),
    Src("wrong-item-received", "I received the wrong item", ["returns", "wrong item", "replacement"],
        """
Sorry about the mix-up. Please let us know within **{damage_days} days** of delivery.

## What to do
1. Contact us with the order number and a photo of what arrived, including its label.
2. We ship the correct item right away, at no cost, by the same method you chose.
3. We email a prepaid label for the wrong item. Please send it back within 14 days.

If the item you ordered is out of stock, we refund it in full instead, including any shipping you paid.
""", ["ordered a blue towel set, got a rug", "you sent me someone else's item"]),
    Src("missing-items-from-order", "An item is missing from my order", ["returns", "missing item", "delivery"],
        """
## First, check
- **Split shipments:** the packing slip or order page may show the item in another parcel with its own
  tracking number.
- **Packaging:** small items are sometimes wrapped inside larger ones.
- **Unavailable items:** if an item sold out, we'll have emailed you and refunded it.

## Still missing?
Contact us within {damage_days} days of delivery with the order number. We check the parcel's packing
weight and either ship the missing item at no cost or refund it to your original payment method.
""", ["box arrived but one item isn't in it", "only got 2 of the 3 things i ordered"]),
    Src("returns-after-the-window", "Returning after the return window", ["returns", "return window", "exceptions"],
        """
Our return window is {return_days} days from delivery ({premier_return_days} days for Premier members).
After that, we can't accept change-of-mind returns or issue refunds.

## What you can still do
- **Faulty item?** It may be covered by its warranty or by our {guarantee_days}-day quality guarantee.
  See *Warranty overview*.
- **Gift received late?** Gift returns use the delivery date of the original order. If the giver ordered
  early, contact us and we'll look at the dates with you.
- **Delivery delayed by us?** The window always starts on the date the carrier delivered, not the date you
  ordered.
""", ["its been 5 weeks can i still return my sheets", "missed the return deadline by a few days"]),
    Src("items-that-need-special-returns", "Returning electronics, mattress toppers and bedding", ["returns", "electronics", "hygiene"],
        """
Most items follow the normal return steps. A few need extra care.

## Electronics
- Include all cables, chargers, manuals and the original box.
- Sign out of any app or account the device was linked to, and do a factory reset (see the product's
  troubleshooting article).
- Power banks and items with lithium batteries must be sent by ground service; the prepaid label takes
  care of this.

## Pillows, sheets and towels
These can be returned if they've been tried, as long as they are clean and in their packaging.

## Personal care
Soaps, oils, deodorant and bath salts are final sale and can't be returned once delivered.
""", ["what do i need to do before returning my e-reader", "can i return pillows i slept on"]),
]  # fmt: skip
