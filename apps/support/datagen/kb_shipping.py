"""Help-centre articles: shipping and delivery. Bodies are templates over the policy placeholders."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "shipping"
ARTICLES = [
    Src("shipping-methods-and-delivery-times", "Shipping methods and delivery times", ["shipping", "delivery time", "rates"],
        """
We offer three shipping methods within the United States. Delivery times are counted in business days
(Monday to Friday, excluding public holidays) from the day your order ships, not the day you place it.

| Method | Cost | Delivery time after shipping |
|---|---|---|
| Standard | ${std_fee} (free on orders of ${free_ship} or more) | {std_min} to {std_max} business days |
| Expedited | ${exp_fee} | {exp_min} to {exp_max} business days |
| Overnight | ${on_fee} | {on_min} business day |

## When does my order ship?
Orders placed before {cutoff} on a business day usually leave our warehouse the same day; later orders
ship the next business day. Your confirmation email shows the method you picked, and the shipping email
adds the carrier and tracking number.

## Good to know
- Overnight orders placed on Friday after {cutoff} ship on Monday.
- Furniture ships by freight and follows its own schedule (see *Furniture and oversized delivery*).
- You can't upgrade the method after an order has shipped.
""", ["how long does standard shipping take", "whats the fastest way to get my stuff, how many days is expedited?",
      "overnight delivery cost?"]),
    Src("free-shipping", "Free standard shipping on orders of ${free_ship} or more", ["shipping", "free shipping", "threshold"],
        """
Standard shipping is free when your order total after discounts is **${free_ship} or more**. Below that,
standard shipping costs ${std_fee}.

## How the threshold is counted
- The amount is the item total **after** promo codes and before tax.
- Gift cards count toward the threshold.
- Expedited and overnight shipping are never free, even above ${free_ship}.

## Premier members
Premier members get free standard shipping on every order, with no minimum.

## If an order dips below the threshold after a return
We do not charge shipping retroactively. If you return part of an order that shipped free, your refund
is the price you paid for the returned items; nothing is deducted for the original shipping.
""", ["do you guys do free shipping?", "minimum order for free delivery",
      ("why was I charged shipping on a 70 dollar order", [])]),
    Src("order-processing-and-cutoff", "When your order leaves the warehouse", ["shipping", "processing", "cutoff time"],
        """
Processing is the time between placing an order and handing it to the carrier. For in-stock items it
takes up to {processing_days} business day.

## Daily cutoff
Orders placed before **{cutoff}** Monday to Friday normally ship the same day. Orders placed after the
cutoff, on weekends or on public holidays ship on the next business day.

## What can slow processing down
1. A payment that is still being authorised (the order shows *pending*).
2. An address our system could not verify: we email you within one business day.
3. Personalised items, which are engraved or monogrammed before they ship (add 2 business days).

Once the order ships, its status changes to *shipped* and you receive the tracking number by email.
""", ["i ordered on saturday when will it ship", "what time do I need to order by to ship today"]),
    Src("track-your-package", "How to track your package", ["tracking", "shipping", "order status"],
        """
Every order that ships gets a tracking number from the carrier.

## Find your tracking number
1. Sign in at {website} and open **Account > Orders**.
2. Select the order. Shipped orders show the carrier and tracking number.
3. Select the tracking number to open the carrier's tracking page.

The shipping confirmation email contains the same link. Guests can use **Track an order** at the bottom
of any page with the order number (it starts with `A-`) and the email used at checkout.

## Tracking says "label created" for a while
The carrier scans the parcel at its first facility, usually within 24 hours of the label being created.
If nothing changes after two business days, contact us and we will check with the carrier.

## Tracking stopped updating
Parcels are not scanned at every step. If tracking has not moved for {trace_days} business days, we open
a trace with the carrier for you.
""", ["where do i find my tracking #", "how can I see where my package is right now"]),
    Src("carrier-bluejay-express", "Deliveries by Bluejay Express", ["carrier", "bluejay express", "tracking"],
        """
Bluejay Express carries our **overnight** orders and some **expedited** ones.

## Tracking numbers
Bluejay tracking numbers start with **BJ** followed by 10 digits, for example `BJ0123456789`.

## Delivery details
- Deliveries arrive by 8 p.m. on weekdays; Bluejay does not deliver on Sundays.
- If nobody is home and the parcel needs a signature, the driver leaves a notice and tries again the next
  business day. After three attempts the parcel is held at the local Bluejay depot for five days.
- You can ask Bluejay to hold the parcel or leave it with a neighbour using the link in the tracking page.

## When to contact us instead
Contact {shop} if tracking shows *returned to sender*, or if the parcel is marked delivered and you can't
find it (see *Package marked delivered but not received*).
""", ["my tracking starts with BJ, who is that?", "bluejay left a note, what happens now"]),
    Src("carrier-meridian-post", "Deliveries by Meridian Post", ["carrier", "meridian post", "tracking"],
        """
Most **standard** orders travel with Meridian Post, the national postal carrier we use for smaller parcels.

## Tracking numbers
Meridian Post tracking numbers start with **MP** followed by 12 digits.

## What to expect
- Meridian delivers Monday to Saturday and can deliver to PO boxes.
- Parcels that do not fit your mailbox are left at the door or, if unsafe, held at your local post office
  with a slip in your mailbox. Bring the slip and a photo ID.
- Tracking updates can lag by up to a day; a parcel may arrive before the tracking says *out for delivery*.

## Redirecting a parcel
Once shipped we can't change the address, but Meridian's redirect service may be able to. See
*Changing the shipping address* for what we can do before shipping.
""", ["tracking number begins with MP", "can meridian deliver to my po box"]),
    Src("carrier-cobalt-courier", "Deliveries by Cobalt Courier", ["carrier", "cobalt courier", "tracking"],
        """
Cobalt Courier delivers a share of our **standard** and **expedited** orders, mostly in metropolitan areas.

## Tracking numbers
Cobalt tracking numbers start with **CC**, then 9 digits, and end in **US**, for example `CC123456789US`.

## Delivery windows
Cobalt sends a text on the morning of delivery with a four-hour window, using the phone number on your
order. Reply to that text to pick a safe place or a different day within the next three days.

## Missed deliveries
Cobalt makes two attempts. After the second, the parcel goes to a Cobalt pickup point near you for seven
days, then comes back to us; when it arrives we refund the order to the original payment method.
""", ["cobalt courier missed me twice", "what does a CC...US tracking number mean"]),
    Src("package-marked-delivered-not-received", "Package marked delivered but not received", ["delivery", "missing package", "stolen"],
        """
Sometimes tracking shows *delivered* before the parcel actually arrives, or the carrier leaves it
somewhere unexpected.

## Check first
1. Wait until the end of the day: carriers sometimes scan parcels as delivered early.
2. Look around the delivery area, side doors, garage, mailroom or with neighbours.
3. Check the tracking page for a delivery photo or a note about where it was left.
4. Make sure the address on the order confirmation is correct.

## Still missing after 2 days?
Contact us within **{damage_days} days** of the delivery date with your order number. We open a claim with
the carrier, which usually takes up to {lost_days} business days. If the carrier can't locate the parcel we
send a replacement or refund you in full, your choice.
""", ["it says delivered but nothing is at my door", "tracking says delivered, package not here, what do i do?"]),
    Src("lost-package-trace", "What happens when a package is lost in transit", ["lost package", "trace", "shipping"],
        """
A parcel is treated as lost when its tracking has not updated for **{trace_days} business days** or it is
well past its estimated delivery date.

## What we do
1. We open a trace with the carrier. You don't need to contact the carrier yourself.
2. The carrier searches its network; this takes up to {lost_days} business days.
3. If the parcel turns up, it continues to you and we let you know.
4. If it does not, we send a free replacement by the same method (or refund the order if the item is
   out of stock or you prefer a refund).

## What we need from you
Just the order number. For orders over ${signature_over}, which ship with signature required, we may ask
you to confirm that nobody at the address signed for the parcel.
## While you wait
- You don't need to reorder: if the trace fails, we send the replacement automatically.
- If the parcel turns up after we've sent a replacement, you can keep both and we'll bill nothing extra, or
  return the extra one with a free label.

## Parcels shipped with a signature
For signature-required orders the carrier checks the delivery record first, which can add a day or two.
""", ["my package hasnt moved in over a week", "how long before you call a parcel lost"]),
    Src("damaged-package-on-arrival", "My order arrived damaged", ["damaged", "delivery", "replacement"],
        """
We're sorry it arrived that way. Please report damage within **{damage_days} days** of delivery so we can
claim it with the carrier.

## How to report damage
1. Keep the item and all the packaging: the carrier may ask to inspect it.
2. Take photos of the damage, the outside of the box and the shipping label.
3. Contact us with the order number and the photos (chat, email or the *Report a problem* button on the order).

## What happens next
Once we see the photos we send a replacement at no charge, usually the same day. If the item is out of
stock you can choose a refund instead. You never pay return shipping for damaged items.

Final-sale items that arrive damaged are covered too: final sale only rules out change-of-mind returns.
""", ["box came crushed and my lamp is broken", "item arrived smashed what now"]),
    Src("international-shipping", "Shipping outside the United States", ["international", "shipping", "customs"],
        """
We ship to Canada, the United Kingdom, the European Union, Australia and New Zealand.

## Cost and timing
International shipping is a flat **${intl_fee}** per order and takes **{intl_min} to {intl_max} business days**
after the order ships. Free-shipping offers do not apply to international orders.

## Duties and taxes
Import duties, taxes and brokerage fees are charged by your country on arrival and are paid by the
recipient. We can't predict the exact amount.

## Restrictions
- Furniture, rugs and items with lithium batteries (power banks, e-readers) ship to US addresses only.
- International orders can't be shipped expedited or overnight.
- Returns from outside the US are accepted, but the return shipping is at your cost.
""", ["do you ship to canada", "how much to ship to the uk and do i pay customs?"]),
    Src("po-boxes-and-military-addresses", "PO boxes, APO/FPO and military addresses", ["shipping", "po box", "military"],
        """
## PO boxes
We can ship to PO boxes with **standard shipping** only, because only Meridian Post delivers to them.
Furniture and items over 20 lb can't go to a PO box.

## APO, FPO and DPO addresses
Military addresses are served by standard shipping through Meridian Post. Allow an extra 7 to 15 business
days on top of the usual standard time. Enter the address exactly as issued, with the unit and box number.

## Tips
- Use the PO box as address line 1 and leave address line 2 empty.
- Expedited or overnight are not shown at checkout when your address is a PO box.
""", ["can i ship to a PO box with overnight?", "shipping to an APO address"]),
    Src("split-shipments", "Why did my order arrive in several boxes?", ["shipping", "split shipment", "partial delivery"],
        """
Large or mixed orders can ship in more than one parcel, sometimes from different warehouses and with
different carriers.

## How to tell
Your order page lists each parcel with its own tracking number. You get a shipping email for each one.
The order status changes to *delivered* when the last parcel arrives.

## You only pay shipping once
Splitting a shipment never costs you more. If one parcel arrives and the other doesn't, check its tracking
number separately before contacting us.

## Furniture
Furniture always ships separately by freight, so an order with a bookshelf and a candle arrives in two
deliveries.
""", ["only got half my order", "why did i get 2 packages with different tracking numbers"]),
    Src("weekend-and-holiday-delivery", "Weekend and holiday deliveries", ["shipping", "holidays", "weekend"],
        """
Delivery estimates count business days only, so weekends and public holidays are not included.

## Saturday and Sunday
- Meridian Post delivers on Saturdays.
- Bluejay Express and Cobalt Courier deliver Monday to Saturday in most cities; none of our carriers
  deliver on Sundays.
- Orders don't leave our warehouse on weekends.

## Holiday season
Between Thanksgiving and the end of December, carriers handle far more parcels and some deliveries take
1 to 2 business days longer than the estimate. We publish last order dates for holiday delivery on the
home page each November. Overnight orders placed before {cutoff} on the last business day before a
holiday still ship that day.
""", ["do you deliver on sundays", "will my order arrive before christmas if i use standard"]),
    Src("change-shipping-address", "Changing the shipping address on an order", ["orders", "address", "shipping"],
        """
## Before the order ships
You can change the address while the order status is **pending** or **paid**.
1. Open **Account > Orders** and select the order.
2. Choose **Edit shipping address** and save.
3. If the button is missing, contact us right away: the order may already be on its way to the carrier.

## After the order ships
We can't change the address of a shipped order. You can:
- Use the carrier's redirect or hold-for-pickup option from the tracking page, where available.
- Let the parcel come back to us. Once it arrives we refund the order to your original payment method
  and you can reorder to the right address.

Changing the address on your account does not change orders you have already placed.
""", ["I put the wrong address on my order!!", "can i change where my package goes after it's shipped"]),
    Src("signature-required-deliveries", "Deliveries that need a signature", ["shipping", "signature", "high value"],
        """
Orders with a total over **${signature_over}** ship with *signature required*, to protect high-value
deliveries. Someone aged 18 or over must sign for the parcel.

## If you'll be out
- Use the carrier's tracking page to pick another day or a pickup point.
- A neighbour at the same address can sign.
- We can't remove the signature requirement, even on request.

## Missed all attempts?
The carrier holds the parcel for a few days and then returns it to us. When it arrives, we refund the
order in full to the original payment method, or reship it if you ask before it reaches us.
""", ["why do i have to sign for my order", "can you leave it at the door without a signature?"]),
    Src("furniture-and-oversized-delivery", "Furniture and oversized delivery", ["furniture", "freight", "delivery"],
        """
Bookshelves, desks, chairs, benches and large rugs ship by freight with a delivery appointment.

## How it works
1. Freight items are prepared within 3 to 5 business days.
2. The freight company calls or texts you to book a four-hour delivery window.
3. Delivery is to your front door, lobby or garage (curbside for homes with steep access).
4. Check the boxes before signing; note any visible damage on the delivery receipt.

## Cost
Freight is included in standard shipping and follows the same free-shipping rule (free at ${free_ship} or
more). Expedited and overnight are not available for furniture.

## Assembly
Most pieces need simple assembly with the tools included. Instructions are also on the product page.
""", ["how is the standing desk delivered", "do you bring the bookshelf inside and assemble it?"]),
    Src("shipping-to-alaska-hawaii-territories", "Shipping to Alaska, Hawaii and US territories", ["shipping", "alaska", "hawaii"],
        """
We ship to Alaska, Hawaii, Puerto Rico, Guam and the US Virgin Islands.

## Methods
- **Standard** and **expedited** are available; overnight is not.
- Add 2 to 5 business days to the usual estimate for standard shipping.
- Items with lithium batteries travel by ground and sea, so they can take up to three weeks.

## Cost
The usual rates apply, including free standard shipping at ${free_ship} or more. Furniture can't be shipped
outside the contiguous United States.
""", ["do you ship to hawaii?", "shipping times to anchorage alaska"]),
]  # fmt: skip
