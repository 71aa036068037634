"""Help-centre articles: orders and contacting support."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "orders"
ARTICLES = [
    Src("order-statuses-explained", "What each order status means", ["orders", "order status", "tracking"],
        """
Your order page shows one of six statuses.

| Status | What it means | Can I cancel? |
|---|---|---|
| **Pending** | We're waiting for the payment to be authorised. | Yes |
| **Paid** | Payment is confirmed and the warehouse is preparing your parcel. | Yes |
| **Shipped** | The carrier has the parcel; a tracking number is on the order. | No |
| **Delivered** | The carrier confirmed delivery. Your return window starts today. | No, but you can return |
| **Cancelled** | The order was cancelled before shipping; any payment was refunded. | - |
| **Returned** | We received your return and refunded the returned items. | - |

## An order stuck on pending
Pending usually clears within an hour. If it lasts more than 24 hours, the payment could not be
authorised: check the email we sent, or update the payment method on the order.

## Delivered but you disagree
See *Package marked delivered but not received*.
""", ["what does paid mean on my order, has it shipped?", "difference between shipped and delivered status"]),
    Src("cancel-an-order", "How to cancel an order", ["orders", "cancel", "refund"],
        """
You can cancel an order yourself while its status is **pending** or **paid**, that is, before it ships.

## Steps
1. Go to **Account > Orders** and open the order.
2. Select **Cancel order** and choose a reason.
3. You'll get a cancellation email within a few minutes.

## Refund after cancelling
If the payment was already taken, we refund the full amount, including shipping, to the original payment
method. It shows up in {refund_min_days} to {refund_max_days} business days. Pending orders were never
charged; the authorisation hold simply drops off.

## Already shipped?
A shipped order can't be cancelled. Once it's delivered you can return it within {return_days} days of
delivery, or refuse the delivery so it comes back to us.

You can't cancel part of an order. To drop one item, cancel the order and place a new one.
""", ["how do i cancel my order", "i want to cancel, it says shipped already", "can i cancel just one thing from my order"]),
    Src("modify-an-order", "Changing the items in an order", ["orders", "edit order", "size"],
        """
For speed, our warehouse starts picking orders soon after payment, so we can't add items to an order or
swap sizes and colours once it's placed.

## What you can do
- **Before it ships:** cancel the order (*Account > Orders > Cancel order*) and place a new one. If you
  used a promo code, it is released when the order is cancelled and can be used again.
- **After delivery:** return or exchange the item within {return_days} days of delivery. Exchanges for a
  different size or colour of the same product are free.

## What we can still change before shipping
The shipping address and the gift message. Contact us as soon as possible and include the order number.
""", ["can i add something to an order i just placed", "ordered the wrong colour, can you switch it"]),
    Src("order-confirmation-email-missing", "I didn't get an order confirmation email", ["orders", "email", "confirmation"],
        """
Confirmation emails are sent within 15 minutes of placing an order, from orders@{website}.

## Check these first
1. Your spam, junk or *Promotions* folder.
2. The email address on the order: typos like `gmial.com` are common.
3. Your order history at **Account > Orders**. If the order is listed, it went through.

## Nothing in the order history?
If you checked out as a guest, use **Track an order** with the order number from the confirmation page.
If you have no order number and your card was charged, the charge may be an authorisation hold from a
payment that did not complete; it drops off within a few business days. Contact us with the last four
digits of the card and the amount, and we'll look it up.
""", ["never got a confirmation email after buying", "did my order go through? no email"]),
    Src("backorders-and-preorders", "Backorders and pre-orders", ["orders", "backorder", "pre-order", "stock"],
        """
Some items can be ordered before they're in stock. The product page shows **Backorder** or **Pre-order**
with an expected ship date.

## Payment
We authorise your payment when you order and take it when the item ships. If the order includes in-stock
items, those ship first at no extra shipping cost.

## Delays
If the expected date slips by more than 14 days we email you, and you can cancel at no cost while the item
hasn't shipped.

## Promotions
Promo codes apply at the price on the day you order. Price drops before shipping are handled by our
price adjustment policy (within {price_adjust_days} days of purchase).
""", ["the tent says backorder, when will i be charged", "what does pre-order mean on your site"]),
    Src("gift-wrapping-and-messages", "Gift wrapping and gift messages", ["orders", "gifts", "gift wrap"],
        """
## Gift wrap
Add gift wrap at checkout for **${gift_wrap}** per item. We wrap in recycled kraft paper with a cotton
ribbon. Furniture and rugs can't be gift wrapped.

## Gift message
A gift message is free. It's printed on a card inside the parcel, and prices are left off the packing
slip automatically when you add one.

## Sending to someone else
Enter the recipient's name and address as the shipping address. Tracking emails go to you, not to the
recipient, so the surprise is safe.

The recipient can return or exchange the gift; see *Returning a gift*.
""", ["can you wrap my order as a present", "how much is gift wrapping", "will the price show on the packing slip if its a gift"]),
    Src("out-of-stock-after-ordering", "An item became unavailable after I ordered", ["orders", "stock", "refund"],
        """
Very occasionally an item sells out between checkout and picking, or is found damaged in the warehouse.

## What happens
- We email you within one business day.
- The unavailable item is removed from the order and refunded to your original payment method. The rest of
  the order ships as normal.
- If the refund leaves the order below ${free_ship}, we still ship it free.

## Want it anyway?
Select **Notify me** on the product page to get an email when it's back in stock. We can't hold stock for
an earlier order.
""", ["you emailed me saying an item is out of stock", "item unavailable after i paid, do i get my money back"]),
    Src("duplicate-order-by-mistake", "I placed the same order twice", ["orders", "duplicate", "cancel"],
        """
It happens, especially when a page is slow to load.

## Fix it yourself
1. Open **Account > Orders**. Both orders are listed with their own order numbers.
2. Cancel the one you don't need with **Cancel order**. This works while it is pending or paid.
3. The refund for the cancelled order arrives in {refund_min_days} to {refund_max_days} business days.

## If both have shipped
Keep one parcel and return the other within {return_days} days of delivery using a free prepaid label.
""", ["accidentally ordered twice", "double order, need to cancel one"]),
    Src("bulk-and-business-orders", "Bulk and business orders", ["orders", "bulk", "business", "invoice"],
        """
We welcome orders for offices, rentals, events and corporate gifts.

## Orders of 10 or more of one item
Email our business team at business@{website} with the items, quantities and delivery date. We reply
within two business days with a quote, delivery plan and, for larger orders, a volume discount.

## Invoices and tax exemption
- Every order has a downloadable invoice under **Account > Orders**.
- Tax-exempt organisations can send their certificate to business@{website} before ordering.

## Payment terms
Business orders are paid by card or bank transfer. Gift cards in bulk are available for corporate gifting.
""", ["do you do discounts for big office orders", "i need 40 mugs for a corporate event"]),
    Src("contact-customer-support", "How to contact {shop} support", ["support", "contact", "hours"],
        """
## Channels
- **Chat:** the chat bubble on {website} and in the app.
- **Email:** {support_email}. We answer within **{email_hours} hours**.
- **Phone:** {support_phone}.

## Hours
- {hours_weekday}
- {hours_weekend}

Our chat assistant answers common questions 24/7 and can look up orders, start returns and create a
ticket for our team.

## Urgent issues
Urgent tickets (for example a wrong address on an order that is about to ship, or a safety concern with a
product) are answered within **{urgent_hours} hours** during opening hours.

## Have ready
Your order number (starts with `A-`) and the email on your account.
""", ["what are your customer service hours", "phone number for support?", "how fast do you answer emails"]),
    Src("talk-to-a-person", "Talking to a person", ["support", "human agent", "escalation"],
        """
Our virtual assistant handles many requests, but you can reach a person whenever you want.

## How
- In chat, type **agent** or **talk to a person** and the assistant hands the conversation over, with
  the history, so you don't need to repeat yourself.
- Call {support_phone} during opening hours ({hours_weekday}; {hours_weekend}).

## When a person is needed
Some requests always go to our team: refunds over ${refund_threshold} (they need a supervisor's approval),
warranty repairs, account ownership disputes and anything about safety. Outside opening hours the
assistant creates a ticket and a team member replies by email within {email_hours} hours.
""", ["i want to speak to a real human", "how do i get a live agent not a bot"]),
    Src("find-a-past-order", "Finding an old order or a guest order", ["orders", "order history", "guest"],
        """
## With an account
All orders placed while signed in are under **Account > Orders**, newest first. Use the search box to
find an order by product name or order number.

## Guest orders
Orders placed as a guest are not linked automatically. To add them to your account:
1. Sign in or create an account with the **same email** used at checkout.
2. Go to **Account > Orders > Link a guest order** and enter the order number.

## Older orders
We keep order records for {retention_years} years, so we can find receipts and warranty details for older
purchases. Contact us with the email used and the approximate date.
""", ["i checked out as guest and want to see the order in my account", "lookup an order from last year"]),
    Src("reorder-a-past-purchase", "Buying something again", ["orders", "reorder"],
        """
To order the same items again:
1. Open **Account > Orders** and pick the earlier order.
2. Select **Buy again**. Items still in stock are added to your cart at today's price.
3. Review the cart and check out as usual.

Promo codes from the earlier order are not reapplied. Personalised items need new engraving details, and
discontinued items show as unavailable with a similar product suggested where we have one.
## Subscribe and save
Some everyday items, like socks, candles and bath salts, can be reordered automatically. On the product page
choose **Repeat every** and pick an interval; you can skip or cancel a delivery from **Account > Orders >
Repeat orders** at any time.
""", ["how do i order the same socks again"]),
    Src("pending-payment-status", "Order stuck on pending payment", ["orders", "pending", "payment"],
        """
**Pending** means the payment hasn't been authorised yet, so the order hasn't gone to the warehouse.

## Common reasons
- **Installments:** the Pay in {inst_count} approval takes a few minutes and may ask you to confirm by text.
- **Bank checks:** some banks ask you to approve online payments in their app.
- **Address mismatch:** the billing address doesn't match the card's records.

## What to do
1. Check your email and your bank app for a request to approve the payment.
2. If nothing changes after 24 hours, open the order and choose **Update payment method**.
3. Orders still pending after 72 hours are cancelled automatically and any hold is released.
""", ["my order has said pending for a day", "why hasn't my order been processed yet, still pending"]),
]  # fmt: skip
