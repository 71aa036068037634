"""Help-centre articles: troubleshooting products, the website and the app."""

from __future__ import annotations

from apps.support.datagen.kbsrc import Src

CATEGORY = "troubleshooting"
ARTICLES = [
    Src("earbuds-wont-pair", "Driftwood earbuds won't pair", ["troubleshooting", "earbuds", "bluetooth"],
        """
1. Put both earbuds in the case and make sure the case is charged (the front light glows green).
2. Open the lid and hold the button on the back of the case for **3 seconds** until the light flashes white.
3. On your phone, open Bluetooth settings and select **Driftwood**.

## Still not pairing?
- Remove **Driftwood** from your phone's Bluetooth list (*Forget this device*) and pair again.
- Turn Bluetooth off and on, and move away from other connected devices.
- **Factory reset:** with the lid open, hold the case button for **15 seconds** until the light flashes
  amber three times. Then pair again.

If they still won't connect, contact us: the earbuds are covered for {w_electronics} months.
""", ["driftwood earbuds not connecting to iphone", "how do i reset the earbuds"]),
    Src("earbuds-one-side-silent", "Sound from only one earbud", ["troubleshooting", "earbuds", "audio"],
        """
1. Put both earbuds back in the case for 10 seconds, then take them out together.
2. Check the audio balance in your phone's accessibility settings is centred.
3. Clean the speaker mesh of the silent earbud with a dry, soft brush; wax can block the sound.
4. Charge the case and earbuds for 30 minutes: one earbud may simply be flat.
5. If it still happens, factory reset (hold the case button 15 seconds) and pair again.

An earbud that won't charge or make sound after a reset is a warranty case.
""", ["left earbud not working", "only hear music in one ear"]),
    Src("headphones-noise-cancelling", "Tidewater headphones: noise cancelling or sound problems", ["troubleshooting", "headphones", "anc"],
        """
## Noise cancelling seems weak
- Check the mode with a short press of the **NC** button: one beep for noise cancelling, two for
  transparency, three for off.
- Make sure the ear cushions seal around your ears; glasses frames can break the seal.
- Update the firmware in the Tidewater app.

## Crackling or cutting out
- Stay within 30 feet of your device with no walls in between.
- Turn off the *high quality* codec in the app if your phone struggles.

## Won't turn on
Charge for 30 minutes with the USB-C cable. If the light stays off, hold **power + NC** for 10 seconds to
reset.
""", ["noise cancelling on my headphones isnt working", "headphones crackle"]),
    Src("speaker-wont-charge", "Cove speaker isn't charging", ["troubleshooting", "speaker", "charging"],
        """
1. Use the USB-C cable in the box and a wall adapter of at least 10 W. Laptop ports and low-power adapters
   may not charge it.
2. Check the port for lint and dry it if it got wet: the speaker won't charge while the port is damp (a red
   light flashes). Let it dry for a few hours.
3. The charging light is amber while charging and turns off when full.
4. If there's no light at all, hold **power + volume down** for 10 seconds to reset.

A speaker that still won't charge is covered by the warranty.
""", ["bluetooth speaker red light flashing wont charge"]),
    Src("smart-lamp-wifi", "Beacon smart lamp won't connect to Wi-Fi", ["troubleshooting", "smart lamp", "wifi"],
        """
The Beacon lamp connects to **2.4 GHz** Wi-Fi only.

1. Make sure your phone is on the same 2.4 GHz network during setup. Many routers combine 2.4 and 5 GHz
   under one name; if setup fails, turn on the router's separate 2.4 GHz network.
2. Put the lamp in pairing mode: switch it off and on three times; it pulses blue.
3. In the Beacon app, select **Add device** and follow the steps.

## Lamp went offline
Routers sometimes change channels. Turn the lamp off for 10 seconds. If it doesn't come back, reset it by
switching it off and on five times until it flashes red, then set it up again.
""", ["smart lamp wont connect to wifi", "beacon lamp says offline in the app"]),
    Src("power-bank-not-charging", "Power bank doesn't charge or charges slowly", ["troubleshooting", "power bank", "battery"],
        """
## Charging the power bank
- Use a USB-C adapter of 18 W or more; it takes about 3.5 hours to fill.
- The four lights show 25% steps; the last light blinks while charging.

## Charging your phone from it
- Press the button once to wake it up.
- Use the USB-C port for fast charging; the USB-A port charges at 12 W maximum.
- Low-power devices like earbuds may need **low-current mode**: double-press the button.

## Warm to the touch?
Slight warmth is normal. If it swells, gets hot or smells, stop using it and contact us right away.
""", ["power bank isnt charging my phone", "battery pack gets hot"]),
    Src("ereader-frozen", "Lumen e-reader is frozen or won't turn on", ["troubleshooting", "e-reader", "reset"],
        """
## Frozen screen
E-ink screens keep the last image even when the device is off. Hold the power button for **20 seconds**,
release, then press it again to restart.

## Won't turn on
Charge for at least an hour with the cable in the box. A completely drained battery needs time before the
charging light appears.

## Books not syncing
1. Check Wi-Fi under **Settings > Wi-Fi**.
2. Go to **Library > Sync now**.
3. Sign out and back in to your Lumen account.

## Factory reset
**Settings > Device > Reset**. Your purchased books stay in your cloud library.
""", ["ereader screen stuck", "lumen won't turn on"]),
    Src("thermostat-setup", "Compass thermostat setup and wiring issues", ["troubleshooting", "thermostat", "smart home"],
        """
Turn off power to your heating and cooling system at the breaker before touching any wires.

## Screen stays blank
- Most systems need a **C-wire** (common wire) for power. If yours has none, use the power adapter in the
  box, following the app's instructions.
- Check the wires are pushed fully into the terminals.

## Heating or cooling doesn't start
1. In the Compass app, check **Settings > Equipment** matches your system (heat pump or furnace).
2. Check the wire labels in the app match the terminals you used.
3. Wait 5 minutes: the thermostat protects your compressor with a short delay.

If you're unsure about wiring, use a licensed technician. Damage from incorrect wiring isn't covered.
""", ["thermostat screen blank after install", "do i need a c wire"]),
    Src("air-purifier-filter-light", "Mistral air purifier: filter light and noise", ["troubleshooting", "air purifier", "filter"],
        """
## Filter light is on
The light comes on after about 6 months of use. Replace the HEPA filter, then hold the **filter** button for
5 seconds to reset the light. Replacement filters are sold on the product page.

## Louder than usual
- Remove the plastic wrap from a new filter: it's easy to miss.
- Make sure the filter is seated with the pull tab facing out.
- Vacuum the pre-filter mesh every 2 weeks.

## Air quality reading seems off
Keep the purifier away from walls and humidifiers, and give the sensor 10 minutes to settle after
switching on.
""", ["filter light won't go off on my air purifier", "air purifier got noisy"]),
    Src("smart-plug-offline", "Ripple smart plug shows offline", ["troubleshooting", "smart plug", "wifi"],
        """
1. Check the plug's light: blue means connected, blinking red means no Wi-Fi.
2. Make sure your Wi-Fi is **2.4 GHz** and the plug is within range of the router.
3. Unplug it for 10 seconds and plug it back in.
4. If you changed your router or Wi-Fi password, reset the plug: hold the button for 6 seconds until it
   blinks quickly, then add it again in the Ripple app.

Schedules are stored on the plug, so they keep working even while the app shows it offline.
""", ["smart plug keeps going offline"]),
    Src("kettle-wont-heat", "Copperline kettle won't switch on or switches off early", ["troubleshooting", "kettle", "appliances"],
        """
## Doesn't switch on
- Seat the kettle firmly on the base; it only works when fully connected.
- Check it has at least the minimum amount of water (0.5 L mark). The dry-boil protection blocks heating
  when it's empty.
- If it boiled dry, let it cool for 15 minutes; the safety cut-out resets by itself.

## Switches off before boiling
Limescale on the heating plate can trigger the cut-out early. Descale it (see *Descaling the Copperline
kettle*).

## Still a problem
The kettle has a {w_appliances}-month warranty; contact us to claim it.
""", ["kettle turns off before it boils", "my kettle doesn't turn on"]),
    Src("blender-wont-start", "Brightmill blender won't start or stops suddenly", ["troubleshooting", "blender", "appliances"],
        """
1. **Jar position:** the blender only runs when the jar is locked on the base and the lid is on. Twist the
   jar until it clicks.
2. **Overheat protection:** if it stopped mid-blend, the motor overheated. Unplug it, wait **20 minutes**,
   then try again with more liquid and less in the jar.
3. **Blades stuck:** frozen fruit can jam the blades. Stop, stir with a spatula (never while it's
   running), add liquid.
4. **Power:** try another outlet and avoid extension cords.

A burning smell on first uses is normal; if it continues, stop using it and contact us.
""", ["blender stopped working mid smoothie", "blender wont turn on even though its plugged in"]),
    Src("espresso-weak-shot", "Steamline espresso maker: weak or slow shots", ["troubleshooting", "espresso", "coffee"],
        """
## Watery, fast shots
- Grind finer, and use 18 g of coffee in the double basket.
- Tamp firmly and evenly.
- Use beans roasted within the last 4 weeks.

## No coffee comes out, or only drips
- The grind is too fine or the coffee is tamped too hard; grind coarser.
- The machine needs descaling if the **descale** light is on.

## No steam
Purge the wand, then clear the tip with the pin tool from the box.

## Water tank error
Make sure the tank is seated, and don't use distilled water: the level sensor needs minerals.
""", ["espresso comes out watery", "espresso machine only drips"]),
    Src("toaster-uneven", "Crumb toaster: uneven or burnt toast", ["troubleshooting", "toaster", "appliances"],
        """
- Empty the crumb tray weekly: built-up crumbs cause uneven heat and smoke.
- Start at setting 3 and adjust; thicker breads need the **bagel** or **frozen** button.
- The first toast after a cold start is always a little lighter.
- If one slot toasts much lighter than the other, or the lever won't stay down, unplug it and contact us:
  it's covered for {w_appliances} months.
## Smoke or burning smell
A light smell the first few times is the protective coating burning off; run it empty on the highest setting
twice to clear it. Ongoing smoke usually means crumbs on the heating elements: unplug, let it cool, and
shake it upside down over the sink.

## Lever won't stay down
The toaster only latches when it's plugged in. Try another outlet before contacting us.
""", ["one side of my toast is always lighter"]),
    Src("standing-desk-error", "Lift standing desk: error codes and wobble", ["troubleshooting", "standing desk", "furniture"],
        """
## Error codes
| Code | Meaning | Fix |
|---|---|---|
| E01 | Legs out of sync | Hold **down** until the desk reaches the bottom and beeps, then release (reset). |
| E02 | Overload | Remove weight; the limit is 220 lb (100 kg). |
| E05 | Obstacle detected | Clear anything under the desk, then press **down**. |
| HOT | Motor needs a rest | Wait 18 minutes. |

## Wobble
Tighten all frame bolts after the first week, and level the feet with the adjusters. Some sway at full
height is normal.

Motor or control box failures are covered by the {w_furniture}-month furniture warranty.
""", ["desk showing E01", "my standing desk is wobbly"]),
    Src("desk-chair-sinking", "Meridian desk chair sinks or tilts", ["troubleshooting", "desk chair", "furniture"],
        """
## Chair sinks slowly
The gas lift cylinder may be failing. Check the seat is fully pushed onto the cylinder, then test it
without weight. A cylinder that won't hold height is covered by the {w_furniture}-month warranty: we send a
replacement cylinder with instructions.

## Tilt is too loose or stiff
Turn the tension knob under the front of the seat: clockwise for stiffer, anticlockwise for looser.

## Squeaks
Tighten the seat and backrest bolts and add a little silicone spray to the tilt mechanism.
""", ["my office chair keeps sinking down", "chair squeaks when i lean back"]),
    Src("camp-light-not-charging", "Lantern camp light won't charge or turn on", ["troubleshooting", "camp light", "outdoor"],
        """
1. Charge with the USB-C cable for 4 hours. The ring glows red while charging, green when full.
2. After long storage, the battery may be in deep sleep: leave it charging for an hour before the light
   appears.
3. Press and hold the power button for 2 seconds to switch on; short presses change the brightness.
4. Check the lock mode: if it's locked, hold the button for 5 seconds to unlock.

The light is splash-proof. If water got into the port, dry it for 24 hours before charging.
""", ["camp lantern not turning on"]),
    Src("checkout-errors", "Problems at checkout", ["troubleshooting", "website", "checkout"],
        """
1. **Refresh the page** and check your cart; a price or stock change can stop checkout.
2. **Address not accepted:** check the postal code and use the suggested format.
3. **Payment fails:** see *My payment was declined*.
4. **Page keeps loading:** turn off ad blockers and VPNs for {website}, or try another browser.
5. **Cart empties:** allow cookies for {website}; they keep your cart.

If checkout fails, don't retry many times in a row: each attempt can leave an authorisation hold on your
card. Contact us and we'll help you complete the order.
""", ["checkout page wont load", "error when i click place order"]),
    Src("app-issues", "The {shop} app isn't working", ["troubleshooting", "app", "mobile"],
        """
1. Update the app to the latest version from your app store.
2. Close it completely and reopen it.
3. Check your connection by opening {website} in your phone's browser.
4. Sign out and back in (**Account > Sign out**).
5. Reinstall the app. Your account, orders and cart are saved online.

## Notifications not arriving
Allow notifications for the app in your phone's settings, and check **Account > Notifications** in the app.

The app needs iOS 16 or Android 11 or later.
""", ["app keeps crashing", "your app won't open on my android"]),
    Src("cannot-add-to-cart", "I can't add an item to my cart", ["troubleshooting", "website", "cart"],
        """
- **Choose a size or colour:** the **Add to cart** button stays inactive until you pick one.
- **Out of stock:** select **Notify me** to get an email when it's back.
- **Quantity limits:** some items are limited to 5 per order.
- **Shipping restrictions:** furniture and battery items can't be added when your saved address is outside
  the US; change the address first.
- **Browser:** allow cookies for {website} and refresh the page.
## Still stuck?
Try a private browsing window. If the button works there, a browser extension is blocking it. Our chat
assistant can also tell you whether an item is in stock.
""", ["add to cart button isnt working"]),
    Src("emails-not-arriving", "Not receiving emails from us", ["troubleshooting", "email", "notifications"],
        """
1. Check spam, junk and *Promotions* folders, and search for **{website}**.
2. Add orders@{website} and help@{website} to your contacts.
3. Check the email under **Account > Profile** for typos.
4. If you unsubscribed from marketing, you still get order emails, but not offers.
5. Work email? Company filters sometimes block shop emails; try a personal address.

Order details are always available under **Account > Orders** even if an email goes missing.
## Text updates instead
If emails keep going missing, you can switch order updates to text messages under **Account >
Notifications**, or ask our support team to change your preferred contact method.
""", ["i don't get any emails from you", "shipping emails going to spam"]),
]  # fmt: skip
